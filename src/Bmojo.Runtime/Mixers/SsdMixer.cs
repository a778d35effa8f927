using Bmojo.Runtime.Blocks;
using Bmojo.Runtime.Ops.Ssd;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>Mamba-2's SSD mixer (Dao &amp; Gu 2024, "Transformers are SSMs"); state-dict names as state-spaces/mamba
/// <c>Mamba2</c>: <c>in_proj, conv1d, dt_bias, A_log, D, norm, out_proj</c>.</summary>
/// <remarks>
/// <c>z, xBC, dt = in_proj(u)</c> (widths d_inner, d_inner + 2·G·N, H); <c>xBC = silu(causal depthwise conv(xBC))</c>;
/// <c>x, B, C = xBC</c>; <c>dt = softplus(dt + dt_bias)</c>, <c>A = -exp(A_log)</c> (one scalar per head);
/// <c>y = SSD(x, dt, A, B, C) + D x</c> (<see cref="ChunkedSsd"/> over the sequence, <see cref="SsdReference.Step"/>
/// for one cached token); output <c>out_proj(norm(y, z))</c> with the gated RMSNorm. The scan runs in fp32 (fp64
/// for an fp64 module). A_log, D and dt_bias stay fp32 when the module is cast to bf16/half (as
/// <see cref="MambaMixer"/>'s); they are out of weight decay and carry their own init (<see cref="IParameterGroups"/>).
/// </remarks>
public sealed class SsdMixer : Mixer, IParameterGroups
{
    private readonly Linear in_proj;
    private readonly Conv1d conv1d;
    // Not readonly: TorchSharp's to() replaces parameter fields by reflection, and so does the fp32 restore in _to.
    private Parameter dt_bias;
    private Parameter A_log;
    private Parameter D;
    private readonly GatedRmsNorm norm;
    private readonly Linear out_proj;

    private readonly long dInner, dState, dConv, heads, headDim, groups, convChannels, chunkSize;

    /// <param name="kernels">The model's kernel policy; the SSD has one implementation per case (chunked for a
    /// sequence, the step for one cached token), so no entry of it applies yet.</param>
    public SsdMixer(int dModel, int layerIndex, SsdOptions options, KernelPolicy? kernels = null)
        : base(nameof(SsdMixer), layerIndex, kernels)
    {
        Check(dModel, options);
        dInner = (long)options.Expand * dModel;
        (dState, dConv, headDim, groups, chunkSize) = (options.DState, options.DConv, options.HeadDim, options.NGroups, options.ChunkSize);
        heads = dInner / headDim;
        convChannels = dInner + 2 * groups * dState;

        in_proj = nn.Linear(dModel, dInner + convChannels + heads, hasBias: options.Bias);   // z, xBC, dt
        conv1d = nn.Conv1d(convChannels, convChannels, dConv, padding: dConv - 1, groups: convChannels, bias: options.ConvBias);
        dt_bias = new Parameter(DtBias(heads, options));
        A_log = new Parameter(ALog(heads));
        D = new Parameter(ones(heads));
        norm = new GatedRmsNorm(dInner, groups);
        out_proj = nn.Linear(dInner, dModel, hasBias: options.Bias);
        RegisterComponents();
    }

    /// <summary>H, the number of heads: d_inner / headdim.</summary>
    public long Heads => heads;

    /// <summary>d_inner = expand * d_model.</summary>
    public long DInner => dInner;

    public override Tensor forward(Tensor x) => Run(x, cache: null);

    public override IMixerCache AllocateCache(long batch)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{Where}: batch must be at least 1");
        Device device = in_proj.weight!.device;
        return new SsdCache(zeros(batch, convChannels, dConv - 1, in_proj.weight.dtype, device),   // (B, d_inner + 2GN, d_conv - 1)
                            zeros(batch, heads, headDim, dState, ComputeType, device));             // (B, H, P, N)
    }

    public override Tensor Forward(Tensor x, IMixerCache cache) => cache is SsdCache ssd
        ? Run(x, ssd)
        : throw new ArgumentException($"{Where}: expected an {nameof(SsdCache)}, got {cache?.GetType().Name ?? "null"}", nameof(cache));

    public IEnumerable<Parameter> NoWeightDecayParameters() => new[] { A_log, D, dt_bias };

    public IEnumerable<Parameter> NoReinitParameters() => new[] { dt_bias, A_log, D };

    private string Where => $"{nameof(SsdMixer)} (layer {LayerIndex})";

    private ScalarType ComputeType => A_log.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    private Tensor Run(Tensor u, SsdCache? cache)
    {
        MixerInput.Check(u, in_proj.weight!.shape[1], Where);
        using var scope = NewDisposeScope();
        long batch = u.shape[0], length = u.shape[1];
        Tensor[] parts = in_proj.forward(u).split(new[] { dInner, convChannels, heads }, -1);
        Tensor z = parts[0], xBC = parts[1].transpose(1, 2), dtRaw = parts[2];                  // xBC (B, d_inner + 2GN, L)

        // Causal depthwise conv: left context of d_conv - 1 inputs (zeros, or the cached ones), then a valid conv.
        Tensor context = cache?.ConvState ?? zeros(batch, convChannels, dConv - 1, xBC.dtype, xBC.device);
        Tensor convInput = cat(new[] { context.to_type(xBC.dtype), xBC }, 2);
        if (cache is not null) cache.ConvState = convInput[.., .., (int)length..];
        xBC = nn.functional.silu(nn.functional.conv1d(convInput, conv1d.weight!, conv1d.bias, groups: convChannels))
            .transpose(1, 2).to_type(ComputeType);                                               // (B, L, d_inner + 2GN)

        Tensor[] xbc = xBC.split(new[] { dInner, groups * dState, groups * dState }, -1);
        Tensor x = xbc[0].reshape(batch, length, heads, headDim);
        Tensor B = xbc[1].reshape(batch, length, groups, dState), C = xbc[2].reshape(batch, length, groups, dState);
        Tensor dt = nn.functional.softplus(dtRaw.to_type(ComputeType) + dt_bias.to_type(ComputeType));   // (B, L, H)
        Tensor A = -exp(A_log.to_type(ComputeType));                                             // (H)
        Tensor skip = D.to_type(ComputeType);

        Tensor y;
        if (cache is not null && length == 1)
        {
            Ran(new MixerPath(Ssd: SsdPath.Step));
            (Tensor step, Tensor state) = SsdReference.Step(x[.., 0], dt[.., 0], A, B[.., 0], C[.., 0], skip, cache.SsmState);
            y = step.unsqueeze(1);
            cache.SsmState = state;
        }
        else
        {
            Ran(new MixerPath(Ssd: SsdPath.Chunked));
            (y, Tensor final) = ChunkedSsd.Run(x, dt, A, B, C, skip, chunkSize, cache?.SsmState);
            if (cache is not null) cache.SsmState = final;
        }
        if (cache is not null) cache.Position += length;
        Tensor gated = norm.forward(y.reshape(batch, length, dInner).to_type(u.dtype), z);        // (B, L, d_inner)
        return out_proj.forward(gated).MoveToOuterDisposeScope();                               // (B, L, D)
    }

    /// <summary>A bf16 run keeps A_log, D and dt_bias in fp32, as Mamba's.</summary>
    protected override IReadOnlyList<Tensor> Fp32Parameters => [A_log, D, dt_bias];

    protected override void RestoreFp32(IReadOnlyList<Tensor> kept)
    {
        A_log = new Parameter(kept[0], A_log.requires_grad);
        ConditionallyRegisterParameter(nameof(A_log), A_log);
        D = new Parameter(kept[1], D.requires_grad);
        ConditionallyRegisterParameter(nameof(D), D);
        dt_bias = new Parameter(kept[2], dt_bias.requires_grad);
        ConditionallyRegisterParameter(nameof(dt_bias), dt_bias);
    }

    private void Check(int dModel, SsdOptions o)
    {
        if (dModel < 1) throw new ArgumentOutOfRangeException(nameof(dModel), dModel, $"{Where}: d_model must be at least 1");
        if (o.DState < 1 || o.DConv < 1 || o.Expand < 1 || o.HeadDim < 1 || o.NGroups < 1 || o.ChunkSize < 1)
            throw new ArgumentException($"{Where}: d_state, d_conv, expand, headdim, ngroups and chunk_size must be at least 1, got {o}", nameof(o));
        long inner = (long)o.Expand * dModel;
        if (inner % o.HeadDim != 0)
            throw new ArgumentException($"{Where}: headdim ({o.HeadDim}) must divide d_inner ({inner})", nameof(o));
        if (inner / o.HeadDim % o.NGroups != 0)
            throw new ArgumentException($"{Where}: ngroups ({o.NGroups}) must divide heads ({inner / o.HeadDim})", nameof(o));
        if (!(o.DtMin > 0 && o.DtMin <= o.DtMax))
            throw new ArgumentException($"{Where}: need 0 < dt_min <= dt_max, got dt_min {o.DtMin}, dt_max {o.DtMax}", nameof(o));
    }

    /// <summary>The inverse softplus of dt drawn log-uniform in [dt_min, dt_max], floored at dt_init_floor, one per
    /// head, so softplus(dt_bias) = dt at init (state-spaces/mamba <c>Mamba2.__init__</c>).</summary>
    private static Tensor DtBias(long heads, SsdOptions options)
    {
        using var noGrad = no_grad();
        double logMin = Math.Log(options.DtMin), logMax = Math.Log(options.DtMax);
        Tensor dt = exp(rand(heads) * (logMax - logMin) + logMin).clamp_min(options.DtInitFloor);
        return dt + log(-expm1(-dt));
    }

    /// <summary>A_log = log(A), A uniform in [1, 16] per head (<c>A_init_range</c>).</summary>
    private static Tensor ALog(long heads)
    {
        using var noGrad = no_grad();
        return log(empty(heads).uniform_(SsdOptions.AInitMin, SsdOptions.AInitMax));
    }
}
