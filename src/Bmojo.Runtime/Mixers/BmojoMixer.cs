using Bmojo.Runtime.Memory;
using Bmojo.Runtime.Ops.BmojoAttention;
using Bmojo.Runtime.Ops.Innovation;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>
/// The B'MOJO mixer (docs/bmojo-layer.md): a fading SSM path <c>y = ssm(u)</c>, queries/keys/values from u,
/// fading keys/values from y, and one softmax over (a) the window <c>t-w &lt; j &lt;= t</c>, (b) the fading tokens
/// <c>t-w-m_f &lt; j &lt;= t-w</c>, (c) the eidetic memory (the most recent m_e innovation-selected tokens that left
/// the window) and (d) retrieved chunks; output through <c>out_proj</c>. Parameters: <c>ssm</c> (a whole
/// <see cref="MambaMixer"/>, absent without an SSM path), <c>in_proj</c> (fused q, k, v as MHA), <c>fading_proj</c>
/// (kf, vf; absent without an SSM path or when tied to the k, v rows of in_proj), <c>predictor</c> (learned P only), <c>out_proj</c>.
/// RoPE, when on, rotates q_t and k_t by their position t and kf_j by j, the position of the token it summarises.
/// </summary>
public sealed partial class BmojoMixer : Mixer
{
    private readonly MambaMixer? ssm;
    private readonly Linear in_proj;
    private readonly Linear? fading_proj;
    private readonly Linear? predictor;
    private readonly Linear out_proj;

    private readonly BmojoOptions options;
    private readonly RotaryEmbedding rotary;
    private readonly BmojoPath attentionPath;
    private readonly int heads, kvHeads, headDim, window, fadingTokens, eideticCapacity;

    /// <param name="kernels">Its <see cref="KernelPolicy.BmojoAttention"/> picks the softmax of the full forward, its
    /// <see cref="KernelPolicy.Scan"/> the fading SSM's scan; null: <see cref="KernelPolicy.Auto"/>.</param>
    public BmojoMixer(int dModel, int layerIndex, BmojoOptions options, KernelPolicy? kernels = null)
        : base(nameof(BmojoMixer), layerIndex, kernels)
    {
        attentionPath = Kernels.BmojoAttention;
        Validate(dModel, layerIndex, options, attentionPath);
        this.options = options;
        rotary = new RotaryEmbedding(options.Attention.RotaryDim, options.Attention.RopeBase);
        heads = options.Attention.Heads;
        kvHeads = options.Attention.KvHeads;
        headDim = dModel / heads;
        window = options.Window;
        fadingTokens = options.EffectiveFadingTokens;
        eideticCapacity = options.EideticCapacity;
        bool bias = options.Attention.Bias;

        if (options.Fading is not null) ssm = new MambaMixer(dModel, layerIndex, options.Fading, Kernels);
        in_proj = nn.Linear(dModel, headDim * (heads + 2 * kvHeads), hasBias: bias);
        if (ssm is not null && !options.TiedFadingProjections) fading_proj = nn.Linear(dModel, 2 * kvHeads * headDim, hasBias: bias);
        if (options.Predictor == Predictor.Learned) predictor = nn.Linear(dModel, dModel, hasBias: false);
        out_proj = nn.Linear(heads * headDim, dModel, hasBias: bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        CheckInput(x);
        using var scope = NewDisposeScope();
        Tensor? y = ssm?.forward(x);                                                             // (B, L, D)
        (Tensor q, Tensor k, Tensor v) = Project(x, start: 0);
        (Tensor kf, Tensor vf) = ProjectFading(y, k, v, start: 0);
        BmojoPath path = ResolvePath(q);
        Ran(new MixerPath(Scan: ssm?.LastPath?.Scan, BmojoAttention: path));
        // On CUDA the fused path takes s and the eidetic tables from one fused pass (the innovation test and the FIFO
        // bookkeeping together); elsewhere s comes from the reference ops and the tables from torch.
        EideticSelection? fusedSelection = path is (BmojoPath.Fused or BmojoPath.Banded)
                                           && x.device_type == DeviceType.CUDA && x.dtype != ScalarType.Float64
            ? SelectFused(x, y) : null;
        Tensor selected = fusedSelection?.Selected ?? Select(x, y, previousY: null);             // (B, L)
        RetrievalPlan? plan = options.Retrieval is null ? null
            : RetrievalPlan.Build(q, k, selected, window, eideticCapacity, options.Retrieval);
        Tensor o = path switch
        {
            BmojoPath.Reference => AttendReference(q, k, v, kf, vf, selected, plan),
            BmojoPath.Fused => BmojoAttentionFunction.Apply(q, k, v, kf, vf, selected, window, fadingTokens, eideticCapacity,
                                                            options.BlockSize, fusedSelection?.Tables),
            BmojoPath.Banded => BmojoBanded.Run(q, k, v, kf, vf, fusedSelection?.Tables ?? FusedBmojoAttention.Tables(selected, window),
                                                window, fadingTokens, eideticCapacity, options.BandedBlockSize),
            _ => BmojoBlockwise.Run(q, k, v, kf, vf, selected, window, fadingTokens, eideticCapacity, plan, options.BlockSize),
        };
        return Output(o).MoveToOuterDisposeScope();
    }

    // The path Auto stands for with these queries (B, H, L, Dh); other paths are kept. On CUDA torch's fused attention
    // over the gathered bands (measured faster than the ILGPU tensor-core kernels, forward and backward: docs/benchmarks.md);
    // elsewhere the blockwise path.
    private BmojoPath ResolvePath(Tensor q) => attentionPath != BmojoPath.Auto ? attentionPath
        : q.device_type == DeviceType.CUDA && q.dtype != ScalarType.Float64 && options.Retrieval is null
            ? BmojoPath.Banded : BmojoPath.Blockwise;

    // s and the eidetic tables of a whole sequence in one fused pass: P = identity reads y_{t-1} in the kernel; a
    // learned P is applied by torch first; without an SSM path the prediction is 0. No gradient (selection is discrete).
    private EideticSelection SelectFused(Tensor u, Tensor? y)
    {
        using var noGrad = no_grad();
        if (y is null) return FusedInnovation.Run(u, zeros_like(u), options.Threshold, window, shiftPrediction: false);
        if (predictor is null) return FusedInnovation.Run(u, y, options.Threshold, window, shiftPrediction: true);
        using var scope = NewDisposeScope();
        Tensor prediction = predictor.forward(InnovationSelector.PreviousOutputs(y, previous: null));
        EideticSelection s = FusedInnovation.Run(u, prediction, options.Threshold, window, shiftPrediction: false);
        return new EideticSelection(s.Selected.MoveToOuterDisposeScope(), s.Edge.MoveToOuterDisposeScope(),
                                    s.Positions.MoveToOuterDisposeScope(), s.Count.MoveToOuterDisposeScope());
    }

    // The exact (B, H or 1, L, 2L) mask over [k | kf] and masked attention.
    private Tensor AttendReference(Tensor q, Tensor k, Tensor v, Tensor kf, Tensor vf, Tensor selected, RetrievalPlan? plan)
    {
        using var scope = NewDisposeScope();
        Tensor mask = BmojoMask.Build(selected, window, fadingTokens, eideticCapacity);         // (B, 1, L, 2L)
        if (plan is not null) mask = BmojoMask.WithRetrieval(mask, plan.ToMask(q.device));      // (B, H, L, 2L)
        return MaskedAttention.Run(q, cat([k, kf], 2), cat([v, vf], 2), mask).MoveToOuterDisposeScope();
    }

    // s_t of the innovation test for a chunk of inputs u (B, T, D) and SSM outputs y; no gradient.
    private Tensor Select(Tensor u, Tensor? y, Tensor? previousY)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor prediction = zeros_like(u);
        if (y is not null)
        {
            Tensor before = InnovationSelector.PreviousOutputs(y, previousY);                   // (B, T, D): y_{t-1}
            prediction = predictor?.forward(before) ?? before;
        }
        Tensor innovation = InnovationSelector.Innovation(u, prediction);                        // (B, T)
        return InnovationSelector.Select(innovation, options.Threshold).MoveToOuterDisposeScope();
    }

    // q (B, H, T, Dh), k and v (B, Hkv, T, Dh) of tokens at positions start .. start + T - 1.
    private (Tensor Q, Tensor K, Tensor V) Project(Tensor u, long start)
    {
        using var scope = NewDisposeScope();
        Tensor qkv = in_proj.forward(u);                                                        // (B, T, Dh (H + 2 Hkv))
        Tensor q = Heads(qkv.narrow(-1, 0, heads * headDim), heads);
        Tensor k = Heads(qkv.narrow(-1, heads * headDim, kvHeads * headDim), kvHeads);
        Tensor v = Heads(qkv.narrow(-1, (heads + kvHeads) * headDim, kvHeads * headDim), kvHeads);
        return (rotary.Apply(q, start).MoveToOuterDisposeScope(), rotary.Apply(k, start).MoveToOuterDisposeScope(),
                v.MoveToOuterDisposeScope());
    }

    // kf, vf (B, Hkv, T, Dh) from the SSM outputs; zeros without an SSM path (never attended: m_f is 0 then).
    private (Tensor Kf, Tensor Vf) ProjectFading(Tensor? y, Tensor k, Tensor v, long start)
    {
        if (y is null) return (zeros_like(k), zeros_like(v));
        using var scope = NewDisposeScope();
        Tensor kv = fading_proj is not null
            ? fading_proj.forward(y)
            : nn.functional.linear(y, in_proj.weight!.narrow(0, heads * headDim, 2 * kvHeads * headDim),
                                   in_proj.bias?.narrow(0, heads * headDim, 2 * kvHeads * headDim)); // (B, T, 2 Hkv Dh)
        Tensor kf = Heads(kv.narrow(-1, 0, kvHeads * headDim), kvHeads);
        Tensor vf = Heads(kv.narrow(-1, kvHeads * headDim, kvHeads * headDim), kvHeads);
        return (rotary.Apply(kf, start).MoveToOuterDisposeScope(), vf.MoveToOuterDisposeScope());
    }

    // (B, T, h Dh) -> (B, h, T, Dh)
    private Tensor Heads(Tensor x, int count) => x.view(x.shape[0], x.shape[1], count, headDim).transpose(1, 2);

    // o (B, H, T, Dh) -> out_proj -> (B, T, D)
    private Tensor Output(Tensor o) => out_proj.forward(o.transpose(1, 2).reshape(o.shape[0], o.shape[2], heads * headDim));

    private void CheckInput(Tensor x) => MixerInput.Check(x, in_proj.weight!.shape[1], $"B'MOJO mixer (layer {LayerIndex})");

    private static void Validate(int dModel, int layerIndex, BmojoOptions o, BmojoPath path)
    {
        string where = $"B'MOJO layer {layerIndex}";
        AttentionOptions a = o.Attention;
        if (a.Heads < 1 || a.KvHeads < 1 || dModel % a.Heads != 0 || a.Heads % a.KvHeads != 0)
            throw new ArgumentException($"{where}: heads ({a.Heads}) must divide d_model ({dModel}) and be a multiple of kv_heads ({a.KvHeads})");
        if (a.RotaryDim < 0 || a.RotaryDim % 2 != 0 || a.RotaryDim > dModel / a.Heads)
            throw new ArgumentException($"{where}: rotary_dim ({a.RotaryDim}) must be even and at most the head size ({dModel / a.Heads})");
        if (o.Window < 0 || o.FadingTokens < 0 || o.EideticCapacity < 0)
            throw new ArgumentException($"{where}: window ({o.Window}), fading_tokens ({o.FadingTokens}) and eidetic capacity ({o.EideticCapacity}) must be >= 0");
        if (o.Window < 1 && o.EffectiveFadingTokens < 1)
            throw new ArgumentException($"{where}: needs window >= 1 or fading_tokens >= 1 with an SSM path, so every query attends to at least one token");
        if (double.IsNaN(o.Threshold))
            throw new ArgumentException($"{where}: the innovation threshold tau is NaN");
        if (o.BlockSize < 1)
            throw new ArgumentException($"{where}: block size ({o.BlockSize}) must be >= 1");
        if (o.BandedBlockSize < 1)
            throw new ArgumentException($"{where}: banded block size ({o.BandedBlockSize}) must be >= 1");
        if (path == BmojoPath.Fused && (o.Retrieval is not null || dModel / a.Heads > FusedBmojoAttention.MaxHeadDim))
            throw new ArgumentException($"{where}: the fused path has no retrieval and holds heads of at most "
                                        + $"{FusedBmojoAttention.MaxHeadDim} (head size {dModel / a.Heads}); use the Auto or Blockwise path");
        if (path == BmojoPath.Banded && o.Retrieval is not null)
            throw new ArgumentException($"{where}: the banded path has no retrieval; use the Auto or Blockwise path");
        if (o.Retrieval is { } r && (r.TopK < 1 || r.ChunkSize < 1))
            throw new ArgumentException($"{where}: retrieval top_k ({r.TopK}) and chunk size ({r.ChunkSize}) must be >= 1");
    }
}
