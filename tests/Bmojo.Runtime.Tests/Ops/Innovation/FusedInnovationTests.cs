using System.Diagnostics;
using System.Runtime.InteropServices;
using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Ops.BmojoAttention;
using Bmojo.Runtime.Ops.Innovation;
using Bmojo.Runtime.Tests.Gpu;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Tests.Ops.Innovation;

/// <summary>The fused innovation pass against InnovationSelector + FusedBmojoAttention.Tables: the same s and tables,
/// exactly, on ILGPU's CPU accelerator (one multiprocessor: blocks one after another; and several: blocks at the same
/// time, waiting for each other), and on CUDA when present. Thresholds are kept clear of every e (the inputs make e
/// cluster, or tau is picked in a gap), since the kernel's fp32 sums round differently from torch's.</summary>
public sealed class FusedInnovationTests
{
    public static TheoryData<long, long, long, int, int, bool> Shapes => new()
    {
        // batch, L, D, w, tokens per tile, shift
        { 1, 1, 8, 0, 16, true },        // L = 1
        { 1, 1, 8, 3, 16, false },       // L = 1, w >= L
        { 1, 37, 5, 3, 16, true },       // odd L and D, three tiles, the last part-full
        { 2, 45, 64, 7, 8, false },      // B > 1, no shift
        { 1, 15, 33, 2, 16, true },      // L under one tile
        { 1, 16, 33, 16, 16, true },     // L exactly one tile, w = L
        { 3, 100, 17, 40, 4, true },     // many small tiles per row
        { 2, 150, 3, 5, 1, false },      // one token a tile: 150 tiles a row
        { 1, 70, 1, 0, 32, true },       // D = 1, w = 0, the largest tile
        { 2, 50, 1024, 9, 16, true },    // D = 1024
        { 1, 61, 200, 100, 7, false },   // w > L, odd tile
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheReferenceOnCpu(long batch, long length, long model, int window, int tokensPerTile, bool shift) =>
        CheckShape(batch, length, model, window, tokensPerTile, shift, CPU, host: null);

    [Fact]
    public void MatchesTheReferenceWhenBlocksRunAtTheSameTime()
    {
        KernelHost host = KernelHost.ConcurrentCpu(multiprocessors: 4);
        try
        {
            CheckShape(2, 101, 16, 5, 1, true, CPU, host);      // 202 tiles over 4 multiprocessors
            CheckShape(1, 300, 8, 0, 3, false, CPU, host);
            CheckShape(3, 64, 40, 70, 8, true, CPU, host);
        }
        finally
        {
            host.Accelerator.Dispose();
        }
    }

    [CudaFact]
    public void MatchesTheReferenceOnCuda()
    {
        foreach (object[] row in Shapes)
            CheckShape((long)row[0], (long)row[1], (long)row[2], (int)row[3], (int)row[4], (bool)row[5], CUDA, host: null);
        CheckShape(2, 20000, 1024, 512, FusedInnovation.DefaultTokensPerTile, true, CUDA, host: null);
        CheckShape(1, 16384, 1024, 512, 32, false, CUDA, host: null);
        CheckShape(8, 2048, 1024, 64, 1, true, CUDA, host: null);
    }

    [Theory]
    [InlineData(double.PositiveInfinity, 0)]   // nothing selected
    [InlineData(-1.0, 1)]                      // tau < 0: everything
    [InlineData(double.NegativeInfinity, 1)]
    [InlineData(0.5, -1)]                      // some: the surprising tokens
    public void ThresholdsSelectNoneAllOrSome(double threshold, int expectedShare)
    {
        manual_seed(31);
        var inputs = InnovationInputs.Predictable(2, 57, 24, surprise: 0.3, shift: false, CPU);
        EideticSelection fused = Check(inputs, threshold, window: 4, FusedInnovation.DefaultTokensPerTile, host: null);
        long count = fused.Selected.sum().item<long>();
        if (expectedShare == 0) Assert.Equal(0, count);
        else if (expectedShare == 1) Assert.Equal(2 * 57, count);
        else Assert.InRange(count, 1, 2 * 57 - 1);
    }

    [Theory]
    [InlineData(0.2)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    public void ContinuousInnovationsSplitAtATauInAGap(double share)
    {
        manual_seed(32);
        var inputs = InnovationInputs.Independent(2, 150, 48, shift: true, CPU);
        double threshold = inputs.ThresholdInGap(share);
        EideticSelection fused = Check(inputs, threshold, window: 6, 16, host: null);
        double selected = fused.Selected.to_type(ScalarType.Float64).mean().item<double>();
        Assert.InRange(selected, 1 - share - 0.15, 1 - share + 0.15);
    }

    [Fact]
    public void IdenticalInputsHaveZeroInnovationAndAreNotSelectedAtTauZero()
    {
        manual_seed(33);
        Tensor u = randn(2, 40, 37);
        EideticSelection same = FusedInnovation.Run(u, u.clone(), 0.0, 3, shiftPrediction: false);
        Assert.False(same.Selected.any().item<bool>());
        Assert.Equal(new long[] { 2, 40 }, same.Selected.shape);
        Assert.Equal(0, same.Edge.abs().sum().item<long>());

        // y_{t-1} = u_t: only token 0 (predicted by y_{-1} = 0) is new.
        Tensor y = cat([u.narrow(1, 1, 39), randn(2, 1, 37)], 1);
        EideticSelection shifted = FusedInnovation.Run(u, y, 0.0, 0, shiftPrediction: true);
        bool[] s = shifted.Selected.flatten().data<bool>().ToArray();
        Assert.Equal(Enumerable.Range(0, 80).Select(i => i % 40 == 0).ToArray(), s);
        Assert.Equal(Enumerable.Repeat(1, 80).ToArray(), shifted.Edge.flatten().data<int>().ToArray());   // S[t], w = 0
        Assert.Equal(new[] { 0, 0 }, shifted.Positions[.., 0].data<int>().ToArray());
    }

    [Theory]
    [InlineData(-1e-50)]    // fp32: -0, and e = 0 is not above it
    [InlineData(1e-50)]
    [InlineData(1e40)]      // fp32: +inf
    public void TauIsRoundedToFp32AsTorchComparesAnFp32Tensor(double threshold)
    {
        Tensor u = zeros(1, 3, 4);                  // e = 0 exactly, in both
        bool[] expected = InnovationSelector.Select(InnovationSelector.Innovation(u, u), threshold).flatten().data<bool>().ToArray();
        bool[] s = FusedInnovation.Run(u, u, threshold, 1, shiftPrediction: false).Selected.flatten().data<bool>().ToArray();
        Assert.Equal(expected, s);
        Assert.Equal(threshold < 0 && (float)threshold < 0, s[0]);
    }

    [Fact]
    public void ZeroRowsNormaliseToZero()
    {
        manual_seed(34);
        var inputs = InnovationInputs.Predictable(4, 33, 20, surprise: 0.3, shift: false, CPU);
        Tensor u = inputs.U.clone(), prediction = inputs.Prediction.clone();
        u[1] = zeros(33, 20);                       // norm(0) = 0: e = mean(norm(p)^2) ~ 1
        prediction[2] = zeros(33, 20);              // the same from the other side
        u[3] = zeros(33, 20);
        prediction[3] = zeros(33, 20);              // both zero: e = 0
        EideticSelection fused = Check(new InnovationInputs(u, prediction, Shift: false), 0.5, window: 2, 8, host: null);
        Assert.True(fused.Selected[1].all().item<bool>());
        Assert.True(fused.Selected[2].all().item<bool>());
        Assert.False(fused.Selected[3].any().item<bool>());
    }

    [Fact]
    public void HalfPrecisionInputsAreTakenAsFp32()
    {
        manual_seed(35);
        var inputs = InnovationInputs.Predictable(2, 41, 32, surprise: 0.4, shift: true, CPU);
        var half = new InnovationInputs(inputs.U.to_type(ScalarType.BFloat16), inputs.Prediction.to_type(ScalarType.Float16), true);
        Check(half, 0.5, window: 5, 16, host: null);
    }

    [Fact]
    public void TakesNonContiguousInputs()
    {
        manual_seed(36);
        var inputs = InnovationInputs.Predictable(2, 30, 16, surprise: 0.4, shift: true, CPU);
        Tensor wide = cat([inputs.U, inputs.Prediction], 2);                 // (B, L, 2D)
        var views = new InnovationInputs(wide[.., .., ..16], wide[.., .., 16..], true);
        Assert.False(views.U.is_contiguous());
        Check(views, 0.5, window: 3, 16, host: null);
    }

    [Fact]
    public void AnEmptySequenceGivesEmptyTables()
    {
        EideticSelection fused = FusedInnovation.Run(zeros(2, 0, 8), zeros(2, 0, 8), 0.5, 3, shiftPrediction: true);
        Assert.Equal(new long[] { 2, 0 }, fused.Selected.shape);
        Assert.Equal(ScalarType.Bool, fused.Selected.dtype);
        Assert.Equal(new long[] { 2, 0 }, fused.Edge.shape);
        Assert.Equal(ScalarType.Int32, fused.Positions.dtype);
        Assert.Equal(new[] { 0, 0 }, fused.Count.data<int>().ToArray());
    }

    [Fact]
    public void RefusesBadArgumentsWithClearErrors()
    {
        Tensor u = zeros(2, 5, 4);
        string Error(Action run) => Assert.ThrowsAny<ArgumentException>(run).Message;
        Assert.Contains("u must be (B, L, D), got (10, 4)", Error(() => FusedInnovation.Run(zeros(10, 4), zeros(10, 4), 0, 1, true)));
        Assert.Contains("prediction must have u's shape (2, 5, 4), got (2, 4, 4)",
                        Error(() => FusedInnovation.Run(u, zeros(2, 4, 4), 0, 1, true)));
        Assert.Contains("u is Float64; the kernel computes in fp32",
                        Error(() => FusedInnovation.Run(u.to_type(ScalarType.Float64), u, 0, 1, true)));
        Assert.Contains("prediction must be Float32, Float16 or BFloat16, got Int32",
                        Error(() => FusedInnovation.Run(u, u.to_type(ScalarType.Int32), 0, 1, true)));
        Assert.Contains("D >= 1", Error(() => FusedInnovation.Run(zeros(2, 5, 0), zeros(2, 5, 0), 0, 1, true)));
        Assert.Contains("window (-1) must be >= 0", Error(() => FusedInnovation.Run(u, u, 0, -1, true)));
        Assert.Contains("tokens per tile must be 1 to 32", Error(() => FusedInnovation.Run(u, u, 0, 1, true, tokensPerTile: 33)));
        Assert.Contains("tokens per tile must be 1 to 32", Error(() => FusedInnovation.Run(u, u, 0, 1, true, tokensPerTile: 0)));
    }

    [CudaFact]
    public void RefusesInputsOnTwoDevices()
    {
        var error = Assert.Throws<ArgumentException>(() => FusedInnovation.Run(zeros(1, 3, 4), zeros(1, 3, 4, device: CUDA), 0, 1, true));
        Assert.Contains("prediction is on cuda", error.Message);
    }

    // The look-back alone, one warp, over descriptors set by hand: (tile, count) of row tiles 0.. and the tile asking.
    internal struct LookBackArguments
    {
        public ArrayView<int> Scratch;
        public ArrayView<int> Result;
        public int Tile;
    }

    private static void LookBackKernel(LookBackArguments p)
    {
        int before = InnovationKernel.LookBack(p.Scratch, 1 + p.Tile, p.Tile, Group.IdxX);
        if (Group.IdxX == 0) p.Result[0] = before;
    }

    [Fact]
    public void LookBackAddsCountsBackToTheNearestInclusivePrefix()
    {
        // 100 tiles of one row: tile i counted i % 7; tile 0 inclusive, tile 20 inclusive (with its true prefix), the
        // rest aggregates only. Tile 99 walks back over 78 aggregates (three windows of 32) to tile 20.
        int[] counts = Enumerable.Range(0, 100).Select(i => i % 7).ToArray();
        int[] words = new int[101];
        for (int i = 0; i < 100; i++)
            words[1 + i] = i is 0 or 20 ? InnovationKernel.Inclusive(counts.Take(i + 1).Sum()) : InnovationKernel.Aggregate(counts[i]);
        foreach (int tile in new[] { 1, 5, 20, 21, 33, 53, 54, 99 })
            Assert.Equal(counts.Take(tile).Sum(), LookBack(words, tile, delayedIndex: -1, TimeSpan.Zero));
    }

    [Fact]
    public void LookBackWaitsForATileThatHasNotPublishedYet()
    {
        // Tile 2 publishes its count 5 only after 300 ms; tile 3 must wait for it and count it.
        int[] words = [0, InnovationKernel.Inclusive(4), InnovationKernel.Aggregate(1), InnovationKernel.Aggregate(5), 0];
        var clock = Stopwatch.StartNew();
        Assert.Equal(4 + 1 + 5, LookBack(words, 3, delayedIndex: 3, TimeSpan.FromMilliseconds(300)));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(300), $"returned after {clock.Elapsed.TotalMilliseconds} ms");
    }

    // Runs the look-back of tile `tile` over `words`; words[delayedIndex] is 0 (unpublished) until `delay` has passed.
    private static int LookBack(int[] words, int tile, int delayedIndex, TimeSpan delay)
    {
        KernelHost host = KernelHost.For(CPU);
        var kernel = host.Accelerator.LoadStreamKernel<LookBackArguments>(LookBackKernel);
        Tensor scratch = tensor(words, ScalarType.Int32), result = zeros(1, ScalarType.Int32);
        if (delayedIndex >= 0) scratch[delayedIndex] = tensor(0);
        IntPtr address = TorchInterop.DataPointer(scratch) + delayedIndex * sizeof(int);
        using (var views = new TorchInterop(host, "look-back"))
        {
            var arguments = new LookBackArguments
            {
                Scratch = views.Int32(scratch, "scratch", words.Length), Result = views.Int32(result, "result", 1), Tile = tile,
            };
            Task publish = delayedIndex < 0 ? Task.CompletedTask : Task.Run(async () =>
            {
                await Task.Delay(delay);
                Marshal.WriteInt32(address, words[delayedIndex]);
                Thread.MemoryBarrier();
            });
            host.Launch(_ => kernel(new KernelConfig(1, InnovationKernel.WarpSize), arguments));
            publish.Wait();
        }
        return result.item<int>();
    }

    private static void CheckShape(long batch, long length, long model, int window, int tokensPerTile, bool shift,
                                   Device device, KernelHost? host)
    {
        manual_seed(batch * 1000 + length * 10 + model + window);
        var inputs = InnovationInputs.Predictable(batch, length, model, surprise: 0.3, shift, device);
        Check(inputs, 0.5, window, tokensPerTile, host);
    }

    /// <summary>Runs the fused pass and asserts it equals the reference exactly: s, edge, the count, the used columns
    /// of positions, and zeros in the others (the reference's scatter leaves zeros there too).</summary>
    private static EideticSelection Check(InnovationInputs inputs, double threshold, int window, int tokensPerTile, KernelHost? host)
    {
        double closest = (inputs.Innovation.to_type(ScalarType.Float64) - threshold).abs().min().item<double>();
        Assert.True(closest > 1e-4, $"an innovation lies {closest:G3} from tau = {threshold}: too close to compare exactly");
        EideticSelection expected = inputs.Reference(threshold, window);
        EideticSelection fused = host is null
            ? FusedInnovation.Run(inputs.U, inputs.Prediction, threshold, window, inputs.Shift, tokensPerTile)
            : FusedInnovation.Run(host, inputs.U, inputs.Prediction, threshold, window, inputs.Shift, tokensPerTile);
        string what = $"(B, L, D) = ({string.Join(", ", inputs.U.shape)}), w = {window}, tau = {threshold}, "
                      + $"{tokensPerTile} tokens/tile, shift {inputs.Shift}, on {inputs.U.device}";

        Assert.Equal(inputs.U.device_type, fused.Selected.device_type);
        Assert.Equal(ScalarType.Bool, fused.Selected.dtype);
        Assert.Equal(ScalarType.Int32, fused.Edge.dtype);
        Assert.Equal(ScalarType.Int32, fused.Positions.dtype);
        bool[] s = fused.Selected.cpu().flatten().data<bool>().ToArray();
        Assert.True(expected.Selected.cpu().flatten().data<bool>().ToArray().SequenceEqual(s), "s " + what);
        Assert.True(expected.Edge.cpu().flatten().data<int>().ToArray().SequenceEqual(fused.Edge.cpu().flatten().data<int>().ToArray()),
                    "edge " + what);
        Assert.Equal(ScalarType.Int32, fused.Count.dtype);
        int[] counts = fused.Count.cpu().data<int>().ToArray();
        Assert.True(expected.Count.cpu().data<int>().ToArray().SequenceEqual(counts), "count " + what);
        Assert.Same(fused.Positions, fused.Tables.Positions);
        long length = inputs.U.shape[1];
        int[] positions = fused.Positions.cpu().flatten().data<int>().ToArray();
        int[] expectedPositions = expected.Positions.cpu().flatten().data<int>().ToArray();
        for (int b = 0; b < counts.Length; b++)
        {
            var used = Enumerable.Range((int)(b * length), counts[b]);
            Assert.True(used.Select(i => expectedPositions[i]).SequenceEqual(used.Select(i => positions[i])), $"positions of row {b}, " + what);
            Assert.All(Enumerable.Range((int)(b * length) + counts[b], (int)length - counts[b]), i => Assert.Equal(0, positions[i]));
        }
        return fused;
    }
}
