using static Bmojo.Runtime.Gpu.KernelTensors;
using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Ops.BmojoAttention;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Ops.Innovation;

/// <summary>What the eidetic memory needs of a sequence: the innovation test's flags and the FIFO rule's tables, in
/// the layout the fused attention kernels read (<see cref="Tables"/>).</summary>
/// <param name="Selected"><c>s_t</c> <c>(B, L)</c> bool.</param>
/// <param name="Edge"><c>S[t - w]</c> <c>(B, L)</c> int32, 0 while <c>t &lt; w</c>; S is the inclusive prefix sum of s.</param>
/// <param name="Positions">The position of the rank-r selected token at column r <c>(B, L)</c> int32; the columns from
/// the row's count <c>S[L - 1]</c> on are 0 (unused).</param>
/// <param name="Count"><c>S[L - 1]</c>, the selected tokens of each sequence <c>(B)</c> int32.</param>
public sealed record EideticSelection(Tensor Selected, Tensor Edge, Tensor Positions, Tensor Count)
{
    /// <summary>The tables as <see cref="FusedBmojoAttention.Tables"/> gives them (the same tensors, no copy).</summary>
    internal EideticTables Tables => new(Edge, Positions, Count);
}

/// <summary>
/// The innovation test of B'MOJO and the eidetic memory's bookkeeping as one fused ILGPU kernel pass (see
/// <see cref="InnovationKernel"/>), on CUDA tensors or (through ILGPU's CPU accelerator) CPU tensors. Same results as
/// <see cref="InnovationSelector.Innovation"/> + <see cref="InnovationSelector.Select"/> +
/// <c>FusedBmojoAttention.Tables</c>: reads u and the prediction once (plus a second pass over each token's
/// D values, from cache), writes s and the tables, and allocates only a zeroed int32 scratch of one word per
/// tile. e_t is computed in fp32 with another summation order than torch's, so it can differ from the reference's
/// in the last bits: s is the reference's wherever e_t is not within float rounding (~1e-6 relative) of tau.
/// Inputs are taken as fp32 and contiguous (other dtypes or layouts cost one conversion copy each). No gradient:
/// selection is discrete.
/// </summary>
public static class FusedInnovation
{
    private const string Operation = "fused innovation test";

    /// <summary>Tokens a block serves by default: 32 tokens, 8 warps, four tokens a warp (B 1, L 16384: 512 blocks);
    /// the fastest of 8, 16 and 32 on the H200 at both bench shapes (0.094 ms against 0.116 ms for 16, docs/benchmarks.md).</summary>
    public const int DefaultTokensPerTile = 32;

    /// <summary>The most tokens a block serves (warp 0 scans them, one lane a token).</summary>
    public const int MaxTokensPerTile = InnovationKernel.MaxTileTokens;

    /// <summary>The longest sequence the kernel's prefix descriptors count.</summary>
    public const int MaxLength = InnovationKernel.MaxLength;

    private static readonly StreamKernel<InnovationArguments> Kernel = new(InnovationKernel.Run);

    /// <summary>
    /// s_t, <c>S[t - w]</c>, the positions table and the count of a whole sequence. Wiring in <c>BmojoMixer.forward</c>: with P
    /// the identity, <c>Run(x, y, tau, w, shiftPrediction: true)</c> (the kernel reads <c>y_{t-1}</c> itself, zero at
    /// t = 0); with a learned predictor, <c>Run(x, predictor.forward(InnovationSelector.PreviousOutputs(y, null)), tau,
    /// w, shiftPrediction: false)</c> under <c>no_grad</c>; without an SSM path, a zero prediction.
    /// </summary>
    /// <param name="u">The layer inputs <c>(B, L, D)</c>.</param>
    /// <param name="prediction">With <paramref name="shiftPrediction"/>, the SSM outputs y <c>(B, L, D)</c>: token t is
    /// compared with <c>y_{t-1}</c> (P = identity); without, <c>P y_{t-1}</c> already aligned with u.</param>
    /// <param name="threshold">tau: token t is selected iff <c>e_t &gt; tau</c> (compared in fp32, as torch compares an
    /// fp32 tensor with a scalar); infinities allowed.</param>
    /// <param name="window">w (0 allowed).</param>
    /// <param name="shiftPrediction">Read the prediction of token t at t - 1 (zero at t = 0).</param>
    /// <param name="tokensPerTile">Tokens a block serves, 1 to <see cref="MaxTokensPerTile"/>.</param>
    public static EideticSelection Run(Tensor u, Tensor prediction, double threshold, int window, bool shiftPrediction,
                                       int tokensPerTile = DefaultTokensPerTile)
    {
        Check(u, prediction, window, tokensPerTile);
        return Launch(KernelHost.For(u), u, prediction, threshold, window, shiftPrediction, tokensPerTile);
    }

    /// <summary><see cref="Run"/> on a given host: tests use a CPU host with several multiprocessors, whose blocks run
    /// at the same time and so exercise the look-back's waiting.</summary>
    internal static EideticSelection Run(KernelHost host, Tensor u, Tensor prediction, double threshold, int window,
                                         bool shiftPrediction, int tokensPerTile)
    {
        Check(u, prediction, window, tokensPerTile);
        return Launch(host, u, prediction, threshold, window, shiftPrediction, tokensPerTile);
    }

    private static EideticSelection Launch(KernelHost host, Tensor u, Tensor prediction, double threshold, int window,
                                           bool shiftPrediction, int tokensPerTile)
    {
        long batch = u.shape[0], length = u.shape[1], model = u.shape[2];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor selected = empty(batch, length, ScalarType.Bool, u.device);                   // (B, L)
        Tensor edge = empty(batch, length, ScalarType.Int32, u.device);                      // (B, L)
        Tensor positions = empty(batch, length, ScalarType.Int32, u.device);                 // (B, L)
        Tensor count = length == 0 ? zeros(batch, ScalarType.Int32, u.device)               // (B): no tile writes it
                                   : empty(batch, ScalarType.Int32, u.device);
        long tilesPerRow = (length + tokensPerTile - 1) / tokensPerTile;
        if (batch * length > 0)
        {
            Tensor uf = Fp32(u), pf = Fp32(prediction);
            Tensor scratch = zeros(1 + batch * tilesPerRow, ScalarType.Int32, u.device);     // ticket, descriptors
            using var views = new TorchInterop(host, Operation);
            var arguments = new InnovationArguments
            {
                U = views.Float32(uf, "u", batch, length, model),
                Prediction = views.Float32(pf, "prediction", batch, length, model),
                Selected = views.Bool(selected, "selected", batch, length),
                EideticEdge = views.Int32(edge, "eidetic edge", batch, length),
                EideticPositions = views.Int32(positions, "eidetic positions", batch, length),
                EideticCount = views.Int32(count, "eidetic count", batch),
                Scratch = views.Int32(scratch, "scratch", 1 + batch * tilesPerRow),
                Length = (int)length, Model = (int)model, Window = window, TileTokens = tokensPerTile,
                TilesPerRow = (int)tilesPerRow, PredictionLag = shiftPrediction ? 1 : 0, Threshold = (float)threshold,
            };
            host.Launch(accelerator => Kernel.On(accelerator)(
                new KernelConfig((int)(batch * tilesPerRow), InnovationKernel.GroupSize(tokensPerTile)), arguments));
        }
        return new EideticSelection(selected.MoveToOuterDisposeScope(), edge.MoveToOuterDisposeScope(),
                                    positions.MoveToOuterDisposeScope(), count.MoveToOuterDisposeScope());
    }

    private static void Check(Tensor u, Tensor prediction, int window, int tokensPerTile)
    {
        static string Shape(Tensor t) => "(" + string.Join(", ", t.shape) + ")";
        if (u.dim() != 3)
            throw new ArgumentException($"{Operation}: u must be (B, L, D), got {Shape(u)}");
        if (!prediction.shape.SequenceEqual(u.shape))
            throw new ArgumentException($"{Operation}: prediction must have u's shape {Shape(u)}, got {Shape(prediction)}");
        if (prediction.device_type != u.device_type || prediction.device_index != u.device_index)
            throw new ArgumentException($"{Operation}: prediction is on {prediction.device}, u is on {u.device}");
        foreach ((Tensor t, string name) in new[] { (u, "u"), (prediction, "prediction") })
        {
            if (t.dtype == ScalarType.Float64)
                throw new ArgumentException($"{Operation}: {name} is Float64; the kernel computes in fp32 (use InnovationSelector, "
                                            + "which computes float64 inputs in float64)");
            if (t.dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
                throw new ArgumentException($"{Operation}: {name} must be Float32, Float16 or BFloat16, got {t.dtype}");
        }
        if (u.shape[2] < 1)
            throw new ArgumentException($"{Operation}: u must have D >= 1, got {Shape(u)}");
        if (u.shape[1] > MaxLength)
            throw new ArgumentException($"{Operation}: L = {u.shape[1]} is over the kernel's {MaxLength}");
        if (u.numel() >= int.MaxValue)   // int32 offsets, and one scratch word more than B * L
            throw new ArgumentException($"{Operation}: u {Shape(u)} has 2^31 - 1 elements or more; split the batch");
        if (window < 0)
            throw new ArgumentException($"{Operation}: window ({window}) must be >= 0");
        if (tokensPerTile is < 1 or > MaxTokensPerTile)
            throw new ArgumentOutOfRangeException(nameof(tokensPerTile), tokensPerTile,
                $"{Operation}: tokens per tile must be 1 to {MaxTokensPerTile}");
    }
}
