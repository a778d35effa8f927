using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Bmojo.Runtime.Mixers;

/// <summary>The Mamba selective SSM mixer; state-dict names as state-spaces/mamba <c>mamba_simple.Mamba</c>:
/// <c>in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj</c>.</summary>
/// <remarks>
/// <c>x, z = in_proj(u)</c>; <c>x = silu(causal depthwise conv(x))</c>; <c>dt, B, C = x_proj(x)</c>;
/// <c>delta = softplus(dt_proj(dt))</c>; <c>y = selective scan(x, delta, A = -exp(A_log), B, C, D) * silu(z)</c>;
/// output <c>out_proj(y)</c>. A_log, D and the dt bias stay fp32 when the module is cast to bf16/half
/// (the scan runs in fp32 anyway); they are out of weight decay and carry their own init (<see cref="IParameterGroups"/>).
/// </remarks>
public sealed class MambaMixer : Mixer, IParameterGroups
{
    private readonly Linear in_proj;
    private readonly Conv1d conv1d;
    private readonly Linear x_proj;
    private readonly Linear dt_proj;
    // Not readonly: TorchSharp's to() replaces parameter fields by reflection, and so does KeepFp32.
    private Parameter A_log;
    private Parameter D;
    private readonly Linear out_proj;

    private readonly long dInner, dState, dConv, dtRank;

    /// <param name="kernels">Its <see cref="KernelPolicy.Scan"/> picks the scan; null: <see cref="KernelPolicy.Auto"/>.</param>
    public MambaMixer(int dModel, int layerIndex, MambaOptions options, KernelPolicy? kernels = null)
        : base(nameof(MambaMixer), layerIndex, kernels)
    {
        MambaShape shape = MambaShape.Of(dModel, layerIndex, options);
        ScanPath = Kernels.Scan;
        (dInner, dState, dConv, dtRank) = (shape.DInner, options.DState, options.DConv, shape.DtRank);

        in_proj = nn.Linear(dModel, 2 * dInner, hasBias: options.Bias);
        conv1d = nn.Conv1d(dInner, dInner, dConv, padding: dConv - 1, groups: dInner, bias: options.ConvBias);
        x_proj = nn.Linear(dInner, dtRank + 2 * dState, hasBias: false);
        dt_proj = nn.Linear(dtRank, dInner, hasBias: true);
        out_proj = nn.Linear(dInner, dModel, hasBias: options.Bias);
        MambaInit.DtProjection(dt_proj, dtRank, options);
        A_log = new Parameter(MambaInit.ALog(dInner, dState));
        D = new Parameter(ones(dInner));
        RegisterComponents();
    }

    /// <summary>The scan implementation, from the kernel policy; all paths compute the same function.</summary>
    public ScanPath ScanPath { get; }

    /// <summary>d_inner = expand * d_model.</summary>
    public long DInner => dInner;

    public override Tensor forward(Tensor x) => Run(x, cache: null);

    public override IMixerCache AllocateCache(long batch)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{Where}: batch must be at least 1");
        Device device = in_proj.weight!.device;
        ScalarType stateType = A_log.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        return new MambaCache(zeros(batch, dInner, dConv - 1, in_proj.weight.dtype, device),  // (B, d_inner, d_conv - 1)
                              zeros(batch, dInner, dState, stateType, device));               // (B, d_inner, N)
    }

    public override Tensor Forward(Tensor x, IMixerCache cache) => cache is MambaCache mamba
        ? Run(x, mamba)
        : throw new ArgumentException($"{Where}: expected a {nameof(MambaCache)}, got {cache?.GetType().Name ?? "null"}", nameof(cache));

    public IEnumerable<Parameter> NoWeightDecayParameters() => new[] { A_log, D, dt_proj.bias! };

    public IEnumerable<Parameter> NoReinitParameters() => new[] { dt_proj.weight!, dt_proj.bias!, A_log, D };

    private string Where => $"{nameof(MambaMixer)} (layer {LayerIndex})";

    private Tensor Run(Tensor x, MambaCache? cache)
    {
        MixerInput.Check(x, in_proj.weight!.shape[1], Where);
        using var scope = NewDisposeScope();
        long length = x.shape[1];
        // in_proj straight into (B, 2 d_inner, L), x read transposed: x and z then have unit stride along L, the
        // layout the conv and the scan read (in_proj(x).transpose would leave z strided and cost a transposing copy
        // of z forward and of its gradient backward).
        Tensor xzT = Batched(in_proj.weight!, x.transpose(1, 2));
        if (in_proj.bias is not null) xzT = xzT + in_proj.bias.unsqueeze(-1);
        Tensor[] xz = xzT.chunk(2, 1);                                                       // 2 x (B, d_inner, L)
        Tensor xs = xz[0], z = xz[1];

        // Causal depthwise conv: left context of d_conv - 1 inputs (zeros, or the cached ones), then a valid conv.
        Tensor context = cache?.ConvState ?? zeros(x.shape[0], dInner, dConv - 1, xs.dtype, xs.device);
        Tensor convInput = cat(new[] { context.to_type(xs.dtype), xs }, 2);                 // (B, d_inner, d_conv - 1 + L)
        if (cache is not null) cache.ConvState = convInput[.., .., (int)length..];
        xs = nn.functional.silu(nn.functional.conv1d(convInput, conv1d.weight!, conv1d.bias, groups: dInner)); // (B, d_inner, L)

        // x_proj and dt_proj as batched matmuls on the (B, channels, L) side, the weight broadcast over the batch (a
        // stride-0 view, no copy): dt, B, C and delta come out in the scan's (B, ·, L) layout, with no transposing
        // copy of xs before x_proj nor of delta after dt_proj (mamba's mamba_inner_fn keeps this layout the same way).
        Tensor[] dtBC = Batched(x_proj.weight!, xs).split(new[] { dtRank, dState, dState }, 1);    // (B, r | N | N, L)
        Tensor delta = Batched(dt_proj.weight!, dtBC[0]);                                    // (B, d_inner, L), bias in the scan
        Tensor B = dtBC[1], C = dtBC[2];                                                     // (B, N, L)
        Tensor A = -exp(A_log.to_type(ComputeType));                                        // (d_inner, N)

        ScanPath path = SelectiveScan.Resolve(ScanPath, xs, delta, A, B, C, D, z, dt_proj.bias, cache?.SsmState, keepFinalState: cache is not null);
        Ran(new MixerPath(Scan: path));
        (Tensor y, Tensor? state) = SelectiveScan.Run(path, xs, delta, A, B, C, D, z, dt_proj.bias, deltaSoftplus: true,
                                                      initialState: cache?.SsmState, keepFinalState: cache is not null);
        if (cache is not null)
        {
            cache.SsmState = state!;                                                       // kept: there is a cache
            cache.Position += length;
        }
        // out_proj from y's (B, d_inner, L) layout straight to (B, L, D): y^T W^T as a batched matmul, y read transposed.
        Tensor output = bmm(y.transpose(1, 2), out_proj.weight!.t().expand(y.shape[0], -1, -1));
        if (out_proj.bias is not null) output = output + out_proj.bias;
        return output.MoveToOuterDisposeScope();                                             // (B, L, D)
    }

    /// <summary><c>W @ x</c> for a weight (out, in) and <paramref name="x"/> (B, in, L): (B, out, L), contiguous.</summary>
    private static Tensor Batched(Tensor weight, Tensor x) => bmm(weight.expand(x.shape[0], -1, -1), x);

    private ScalarType ComputeType => A_log.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;

    protected override IReadOnlyList<Tensor> Fp32Parameters => [A_log, D, dt_proj.bias!];

    protected override void RestoreFp32(IReadOnlyList<Tensor> kept)
    {
        A_log = new Parameter(kept[0], A_log.requires_grad);
        ConditionallyRegisterParameter(nameof(A_log), A_log);
        D = new Parameter(kept[1], D.requires_grad);
        ConditionallyRegisterParameter(nameof(D), D);
        dt_proj.bias = new Parameter(kept[2], dt_proj.bias!.requires_grad);
    }
}
