using Bmojo.Runtime.Mixers;
using Bmojo.Runtime.Tests.Gpu;
using TorchSharp;
using static TorchSharp.torch;
using static Bmojo.Runtime.Tests.BmojoFixtures;

namespace Bmojo.Runtime.Tests;

/// <summary>The path settings of the mixers: Auto picks the C# scan and TorchSharp attention on CPU and the fused kernels on CUDA;
/// a forced Fused path runs the kernels (on ILGPU's CPU accelerator for CPU tensors) and equals the reference.</summary>
public sealed class MixerPathTests
{
    private static readonly MambaOptions Small = new(DState: 4, DConv: 3, Expand: 2, DtRank: 2);

    [Fact]
    public void Auto_scan_is_the_cpu_scan_on_cpu_and_fused_on_cuda_unless_a_gradient_goes_through_a_state()
    {
        Tensor u = zeros(1, 2, 3), A = zeros(2, 16), wide = zeros(2, 33);
        Assert.Equal(ScanPath.Cpu, SelectiveScan.Resolve(ScanPath.Auto, u, A, gradientThroughState: false));
        Assert.Equal(ScanPath.Sequential, SelectiveScan.Resolve(ScanPath.Sequential, u, A, gradientThroughState: false));
        Assert.Equal(ScanPath.Fused, SelectiveScan.Resolve(ScanPath.Fused, u, A, gradientThroughState: false));
        if (!Gpu.CudaFactAttribute.CudaVisible) return;
        Tensor onCuda = u.cuda();
        Assert.Equal(ScanPath.Fused, SelectiveScan.Resolve(ScanPath.Auto, onCuda, A, gradientThroughState: false));
        Assert.Equal(ScanPath.Chunked, SelectiveScan.Resolve(ScanPath.Auto, onCuda, wide, gradientThroughState: false));
        Assert.Equal(ScanPath.Chunked, SelectiveScan.Resolve(ScanPath.Auto, onCuda, A, gradientThroughState: true));
        Assert.Equal(ScanPath.Chunked, SelectiveScan.Resolve(ScanPath.Auto, onCuda.to(float64), A, gradientThroughState: false));
    }

    [Fact]
    public void Unfused_scan_is_auto_without_the_ilgpu_kernels()
    {
        Tensor u = zeros(1, 2, 3), A = zeros(2, 16);
        // A device that is neither the CPU nor CUDA (no data needed): where Auto would take the fused kernels.
        Tensor elsewhere = zeros(new long[] { 1, 2, 3 }, device: new Device(DeviceType.META));
        Assert.Equal(ScanPath.Cpu, SelectiveScan.Resolve(ScanPath.Unfused, u, A, gradientThroughState: false));
        Assert.Equal(ScanPath.Chunked, SelectiveScan.Resolve(ScanPath.Unfused, u, A, gradientThroughState: true));
        Assert.Equal(ScanPath.Fused, SelectiveScan.Resolve(ScanPath.Auto, elsewhere, A, gradientThroughState: false));
        Assert.Equal(ScanPath.Chunked, SelectiveScan.Resolve(ScanPath.Unfused, elsewhere, A, gradientThroughState: false));
    }

    [Fact]
    public void Mamba_fused_on_cpu_equals_the_sequential_reference_with_gradients()
    {
        manual_seed(41);
        using var reference = new MambaMixer(8, 0, Small with { Bias = true }, new KernelPolicy(Scan: ScanPath.Sequential));
        using var fused = new MambaMixer(8, 0, Small with { Bias = true }, new KernelPolicy(Scan: ScanPath.Fused));
        fused.load_state_dict(reference.state_dict());
        Tensor x = randn(2, 19, 8), weight = randn(2, 19, 8);
        Tensor xr = x.clone().requires_grad_(), xf = x.clone().requires_grad_();
        Tensor yr = reference.forward(xr), yf = fused.forward(xf);
        TensorAssert.Close(yr, yf, atol: 1e-5, rtol: 1e-4, what: "fused vs sequential");
        (yr * weight).sum().backward();
        (yf * weight).sum().backward();
        TensorAssert.Close(xr.grad!, xf.grad!, atol: 1e-5, rtol: 1e-4, what: "d/dx");
        foreach (var (name, p) in reference.named_parameters())
            TensorAssert.Close(p.grad!, fused.named_parameters().Single(f => f.name == name).parameter.grad!,
                               atol: 1e-5, rtol: 1e-4, what: $"d/d {name}");
    }

    [Fact]
    public void Mamba_fused_with_a_cache_equals_the_full_forward_and_refuses_a_gradient_through_the_state()
    {
        manual_seed(42);
        using var mixer = new MambaMixer(8, 0, Small, new KernelPolicy(Scan: ScanPath.Fused));
        Tensor x = randn(2, 11, 8);
        using (no_grad())
        {
            Tensor full = mixer.forward(x);
            TensorAssert.Close(full, Recurrent(mixer, x, 4, 1, 6), atol: 1e-5, rtol: 1e-4, what: "fused recurrent");
        }
        using IMixerCache cache = mixer.AllocateCache(2);
        var error = Assert.Throws<ArgumentException>(() => mixer.Forward(x, cache));
        Assert.Contains("no gradient through a cache's state", error.Message);
    }

    [Theory]
    [InlineData(3, 2, 4, 2.0, true, 13)]                       // every source, odd L
    [InlineData(20, 3, 0, 2.0, true, 13)]                      // w >= L, m_e = 0
    [InlineData(0, 2, 2, 2.0, true, 9)]                        // no window
    [InlineData(3, 0, 2, -1.0, false, 10)]                     // no SSM path, every token selected
    [InlineData(2, 2, 3, double.PositiveInfinity, true, 11)]   // empty eidetic memory
    public void Bmojo_fused_on_cpu_equals_the_reference_with_gradients(int w, int mf, int me, double tau, bool ssm, int length)
    {
        manual_seed(43);
        using var reference = Mixer(Options(w, mf, me, tau, ssm), BmojoPath.Reference);
        using var fused = Copy(reference, Options(w, mf, me, tau, ssm), BmojoPath.Fused);
        Tensor x = randn(2, length, D), weight = randn(2, length, D);
        Tensor xr = x.clone().requires_grad_(), xf = x.clone().requires_grad_();
        Tensor yr = reference.forward(xr), yf = fused.forward(xf);
        TensorAssert.Close(yr, yf, atol: 1e-5, rtol: 1e-4, what: "fused vs reference");
        (yr * weight).sum().backward();
        (yf * weight).sum().backward();
        TensorAssert.Close(xr.grad!, xf.grad!, atol: 1e-5, rtol: 1e-4, what: "d/dx");
        foreach (var (name, p) in reference.named_parameters())
            TensorAssert.Close(p.grad ?? zeros_like(p), Parameter(fused, name).grad ?? zeros_like(p), atol: 1e-5, rtol: 1e-4,
                               what: $"d/d {name}");
    }

    [Fact]
    public void A_mixer_reports_the_path_its_last_forward_took()
    {
        manual_seed(46);
        using var mamba = new MambaMixer(8, 0, Small);
        Assert.Null(mamba.LastPath);
        mamba.forward(randn(1, 5, 8, requires_grad: true));
        Assert.Equal(new MixerPath(Scan: ScanPath.Cpu), mamba.LastPath);         // Auto on CPU tensors, training
        using var chunked = new MambaMixer(8, 0, Small, new KernelPolicy(Scan: ScanPath.Chunked));
        chunked.forward(randn(1, 5, 8));
        Assert.Equal(ScanPath.Chunked, chunked.LastPath?.Scan);
        using (IMixerCache cache = mamba.AllocateCache(1))                       // a gradient through the cached state: chunked
            mamba.Forward(randn(1, 5, 8, requires_grad: true), cache);
        Assert.Equal(ScanPath.Chunked, mamba.LastPath?.Scan);

        using var bmojo = Mixer(Options(3, 2, 4, 2.0), BmojoPath.Auto);
        Assert.Null(bmojo.LastPath);
        bmojo.forward(randn(2, 13, D, requires_grad: true));
        // Auto on CPU tensors: blockwise attention; the fading SSM's scan is the plain C# one.
        Assert.Equal(new MixerPath(Scan: ScanPath.Cpu, BmojoAttention: BmojoPath.Blockwise), bmojo.LastPath);
        Assert.Equal(ScanPath.Cpu, bmojo.modules().OfType<MambaMixer>().Single().LastPath?.Scan);
        using var reference = Copy(bmojo, Options(3, 2, 4, 2.0), BmojoPath.Reference);
        reference.forward(randn(2, 13, D));
        Assert.Equal(BmojoPath.Reference, reference.LastPath?.BmojoAttention);
        using (no_grad())                                                        // recurrent: its own softmax, no BmojoPath
        using (IMixerCache cache = reference.AllocateCache(2))
            reference.Forward(randn(2, 3, D), cache);
        Assert.Equal(new MixerPath(Scan: ScanPath.Cpu), reference.LastPath);

        using var attention = new AttentionMixer(D, 0, new AttentionOptions(4, 2));
        Assert.Null(attention.LastPath);
        attention.forward(randn(1, 4, D));
        Assert.Equal(new MixerPath(TorchAttention: true), attention.LastPath);
    }

    [Fact]
    public void Bmojo_auto_on_cpu_is_the_blockwise_path()
    {
        manual_seed(44);
        using var blockwise = Mixer(Options(3, 2, 4, 2.0), BmojoPath.Blockwise);
        using var auto = Copy(blockwise, Options(3, 2, 4, 2.0), BmojoPath.Auto);
        Tensor x = randn(2, 13, D);
        Assert.True(blockwise.forward(x).eq(auto.forward(x)).all().item<bool>());
    }

    [CudaFact]
    public void Auto_on_cuda_equals_the_reference_paths_with_gradients()
    {
        manual_seed(45);
        using var reference = Mixer(Options(3, 2, 4, 2.0), BmojoPath.Reference);
        using var auto = Copy(reference, Options(3, 2, 4, 2.0), BmojoPath.Auto);
        reference.cuda();
        auto.cuda();
        Tensor x = randn(2, 29, D, device: CUDA), weight = randn(2, 29, D, device: CUDA);
        Tensor xr = x.clone().requires_grad_(), xa = x.clone().requires_grad_();
        using (no_grad())                                    // inference: Auto runs the banded attention
            TensorAssert.Close(reference.forward(x).cpu(), auto.forward(x).cpu(), atol: 1e-5, rtol: 1e-4, what: "auto (banded) vs reference on CUDA");
        Assert.Equal(BmojoPath.Banded, auto.LastPath?.BmojoAttention);
        Tensor yr = reference.forward(xr), ya = auto.forward(xa);
        TensorAssert.Close(yr.cpu(), ya.cpu(), atol: 1e-5, rtol: 1e-4, what: "auto (training) vs reference on CUDA");
        (yr * weight).sum().backward();
        (ya * weight).sum().backward();
        TensorAssert.Close(xr.grad!.cpu(), xa.grad!.cpu(), atol: 1e-5, rtol: 1e-4, what: "d/dx on CUDA");
    }

    [CudaFact]
    public void Auto_in_bf16_on_cuda_trains_through_torchs_fused_attention() => TrainsInBf16OnCuda(BmojoPath.Auto, BmojoPath.Banded);

    [CudaFact]
    public void Fused_in_bf16_on_cuda_trains_through_the_tensor_cores() => TrainsInBf16OnCuda(BmojoPath.Fused, BmojoPath.Fused);

    private static void TrainsInBf16OnCuda(BmojoPath path, BmojoPath expected)
    {
        manual_seed(47);
        using var reference = Mixer(Options(5, 3, 4, 1.0), BmojoPath.Reference);
        using var auto = Copy(reference, Options(5, 3, 4, 1.0), path);
        auto.to(ScalarType.BFloat16).cuda();
        reference.to(ScalarType.Float64);
        foreach (var (name, p) in reference.named_parameters())                  // the same (bf16-valued) weights
            using (no_grad()) p.copy_(Parameter(auto, name).to(float64, CPU));
        Tensor x = randn(2, 150, D).to_type(ScalarType.BFloat16), weight = randn(2, 150, D).to_type(ScalarType.BFloat16);
        Tensor xr = x.to(float64).requires_grad_(), xa = x.cuda().requires_grad_();
        Tensor yr = reference.forward(xr), ya = auto.forward(xa);
        Assert.Equal(expected, auto.LastPath?.BmojoAttention);
        (yr * weight.to(float64)).sum().backward();
        (ya * weight.cuda()).sum().backward();
        // bf16 everywhere in the mixer (projections, conv, SSM in and out): relative errors of a few 1e-3 per product.
        AssertRelative(yr, ya, 3e-2, $"{path} vs float64 reference");
        AssertRelative(xr.grad!, xa.grad!, 3e-2, "d/dx");
        foreach (var (name, p) in reference.named_parameters())
            AssertRelative(p.grad!, Parameter(auto, name).grad!, 5e-2, $"d/d {name}");
    }

    private static void AssertRelative(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Tensor e = expected.detach().to(float64, CPU), a = actual.detach().to(float64, CPU);
        Assert.True(isfinite(a).all().item<bool>(), $"{what}: not all finite");
        double error = ((a - e).norm() / e.norm()).item<double>();
        Assert.True(error <= tolerance, $"{what}: ‖got - ref‖ / ‖ref‖ = {error:G3} > {tolerance:G3}");
    }

    [Fact]
    public void Bmojo_fused_refuses_retrieval_when_built()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            Mixer(Options(2, 1, 2, -1.0, retrieval: new RetrievalOptions(2, 3)), BmojoPath.Fused));
        Assert.Contains("the fused path has no retrieval", error.Message);
    }
}
