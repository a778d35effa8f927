using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Ops.BmojoAttention;
using Bmojo.Runtime.Ops.Innovation;
using TorchSharp;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Bench;

/// <summary>Shape of one innovation benchmark: u and y (B, L, D) fp32, window w; about <paramref name="Surprise"/> of the
/// tokens are hard to predict (and selected at tau 0.5).</summary>
public sealed record InnovationShape(long Batch, long Length, long Model, int Window, double Surprise, int Runs)
{
    /// <summary>The issue's shapes: B 1, L 16384 and B 8, L 2048, D 1024, w 512.</summary>
    public static IReadOnlyList<InnovationShape> Issue { get; } =
        [new(1, 16384, 1024, 512, 0.25, Runs: 20), new(8, 2048, 1024, 512, 0.25, Runs: 20)];

    /// <summary>Small shapes for a dry run on the CPU (ILGPU's CPU accelerator).</summary>
    public static IReadOnlyList<InnovationShape> Quick { get; } = [new(2, 40, 32, 4, 0.25, Runs: 2)];

    public override string ToString() => $"B={Batch} L={Length} D={Model} w={Window} surprise={Surprise} fp32";
}

/// <summary>
/// Times the fused innovation pass (<see cref="FusedInnovation"/>: e_t, s_t, prefix sums and the eidetic tables in one
/// launch) against the reference path (<see cref="InnovationSelector"/> + <c>FusedBmojoAttention.Tables</c>,
/// TorchSharp ops), checks that they agree exactly, and on CUDA times the tile sizes and puts bytes/s next to the copy
/// ceiling of the same run (on the CPU: the default's time and agreement only, <see cref="DeviceCeilings"/>). The
/// bytes are what the pass must move: u and the prediction read once, s (1 byte) and the two int32 tables written
/// (the count, B ints, is left out).
/// </summary>
public sealed class InnovationBenchmark
{
    private const int InputSets = 3;   // rotate inputs so no timed run finds its data in L2 from the run before
    private const double Threshold = 0.5;

    private readonly InnovationShape shape;
    private readonly Device device;
    private readonly DeviceTimer timer;
    private readonly TextWriter output;

    public InnovationBenchmark(InnovationShape shape, Device device, DeviceTimer timer, TextWriter output)
    {
        this.shape = shape;
        this.device = device;
        this.timer = timer;
        this.output = output;
    }

    public void Run(DeviceCeilings? ceilings)
    {
        manual_seed(20261130);
        output.WriteLine($"innov    shape {shape}");
        var sets = Enumerable.Range(0, InputSets).Select(_ => Inputs()).ToArray();
        long tokens = shape.Batch * shape.Length;
        double bytes = 2.0 * sizeof(float) * tokens * shape.Model + tokens * (1 + 2 * sizeof(int));

        Timing byDefault = default;
        // Tile sizes are a GPU tuning: on the CPU accelerator only the default is timed.
        int[] tiles = ceilings is null ? [FusedInnovation.DefaultTokensPerTile] : [8, 16, FusedInnovation.DefaultTokensPerTile];
        foreach (int tile in tiles.Distinct())
        {
            Timing fused = timer.Measure(Math.Min(3, shape.Runs), shape.Runs, i => Dispose(Fused(sets[i % InputSets], tile)));
            bool isDefault = tile == FusedInnovation.DefaultTokensPerTile;
            Report($"fused, {tile} tokens/tile{(isDefault ? " (default)" : "")}", fused, bytes, ceilings);
            if (isDefault) byDefault = fused;
        }
        Timing reference = timer.Measure(1, Math.Max(2, shape.Runs / 4), i => Dispose(Reference(sets[i % InputSets])));
        Report("reference (TorchSharp ops)", reference, bytes, ceilings);
        if (ceilings is not null) output.WriteLine($"innov    fused (default) vs reference: {reference.Median / byDefault.Median:G3}x faster");

        Agreement(sets[0]);
        foreach (Tensor t in sets.SelectMany(s => new[] { s.U, s.Y })) t.Dispose();
    }

    private void Report(string name, Timing t, double bytes, DeviceCeilings? ceilings)
    {
        double rate = bytes / t.Median;
        output.WriteLine(ceilings is null
            ? $"innov    {name,-34} {t.Milliseconds}"
            : $"innov    {name,-34} {t.Milliseconds}: {rate / 1e12:F3} TB/s = {rate / ceilings.CopyBytesPerSecond:P1} of copy");
    }

    // Exact agreement: s, edge, and the used columns of positions (the rest are 0 in both).
    private void Agreement((Tensor U, Tensor Y) s)
    {
        using var scope = NewDisposeScope();
        EideticSelection fused = Fused(s, FusedInnovation.DefaultTokensPerTile), expected = Reference(s);
        long sDiffer = fused.Selected.ne(expected.Selected).sum().item<long>();
        long edgeDiffer = fused.Edge.ne(expected.Edge).sum().item<long>();
        long positionsDiffer = fused.Positions.ne(expected.Positions).sum().item<long>();
        long countsDiffer = fused.Count.ne(expected.Count).sum().item<long>();
        double share = expected.Selected.to_type(ScalarType.Float64).mean().item<double>();
        output.WriteLine($"agree    fused vs reference: s differs at {sDiffer}, edge at {edgeDiffer}, positions at {positionsDiffer} "
                         + $"of {shape.Batch * shape.Length} tokens ({share:P1} selected), counts in {countsDiffer} of {shape.Batch} rows");
    }

    private EideticSelection Fused((Tensor U, Tensor Y) s, int tokensPerTile) =>
        FusedInnovation.Run(s.U, s.Y, Threshold, shape.Window, shiftPrediction: true, tokensPerTile);

    private EideticSelection Reference((Tensor U, Tensor Y) s)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor innovation = InnovationSelector.Innovation(s.U, InnovationSelector.PreviousOutputs(s.Y, null));   // (B, L)
        Tensor selected = InnovationSelector.Select(innovation, Threshold);
        EideticTables tables = FusedBmojoAttention.Tables(selected, shape.Window);
        return new EideticSelection(selected.MoveToOuterDisposeScope(), tables.Edge.MoveToOuterDisposeScope(),
                                    tables.Positions.MoveToOuterDisposeScope(), tables.Count.MoveToOuterDisposeScope());
    }

    private static void Dispose(EideticSelection s)
    {
        s.Selected.Dispose();
        s.Edge.Dispose();
        s.Positions.Dispose();
        s.Count.Dispose();
    }

    // u (B, L, D) and y with y_{t-1} = u_t + 10% noise, except a share of surprising tokens (an unrelated y_{t-1}).
    private (Tensor U, Tensor Y) Inputs()
    {
        using var scope = NewDisposeScope();
        long b = shape.Batch, l = shape.Length, d = shape.Model;
        Tensor u = randn(b, l, d, device: device);
        Tensor surprising = rand(b, l, 1, device: device).lt(shape.Surprise);
        Tensor aligned = where(surprising, randn(b, l, d, device: device), u + 0.1 * randn(b, l, d, device: device));
        Tensor y = cat([aligned.narrow(1, 1, l - 1), randn(b, 1, d, device: device)], 1);         // (B, L, D)
        return (u.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope());
    }
}
