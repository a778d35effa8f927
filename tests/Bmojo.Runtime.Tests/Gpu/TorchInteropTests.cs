using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Tests.Gpu;

/// <summary>Views over tensors' memory: in place (no copies), storage offsets honoured, bad tensors refused by name.</summary>
public sealed class TorchInteropTests
{
    private static void AddOne(Index1D i, ArrayView<float> values) => values[i] += 1f;

    [Fact]
    public void KernelsWriteTheTensorInPlaceOnCpu() => WritesInPlace(CPU);

    [CudaFact]
    public void KernelsWriteTheTensorInPlaceOnCuda() => WritesInPlace(CUDA);

    private static void SetOdd(Index1D i, ArrayView<byte> flags) => flags[i] = (byte)(i % 2);

    [Fact]
    public void KernelsWriteABoolTensorAsBytes()
    {
        Tensor whole = zeros(6, ScalarType.Bool);
        Tensor tail = whole[2..];                            // a view with a storage offset of 2
        KernelHost host = KernelHost.For(CPU);
        using (var views = new TorchInterop(host, "set odd"))
        {
            ArrayView<byte> view = views.Bool(tail, "tail", 4);
            host.Launch(accelerator => accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<byte>>(SetOdd)((int)view.Length, view));
        }
        Assert.Equal(new[] { false, false, false, true, false, true }, whole.data<bool>().ToArray());
    }

    [Fact]
    public void RefusesANonBoolTensorAsBoolByName()
    {
        using var views = new TorchInterop(KernelHost.For(CPU), "test op");
        var error = Assert.Throws<ArgumentException>(() => views.Bool(zeros(4, ScalarType.Byte), "s", 4));
        Assert.Equal("test op: s must be Bool, got Byte", error.Message);
    }

    [Fact]
    public void RefusesAWrongDtypeByName()
    {
        KernelHost host = KernelHost.For(CPU);
        using var views = new TorchInterop(host, "test op");
        var error = Assert.Throws<ArgumentException>(() => views.Float32(zeros(4, ScalarType.Float64), "x", 4));
        Assert.Equal("test op: x must be Float32, got Float64", error.Message);
    }

    [Fact]
    public void RefusesAWrongShapeByName()
    {
        using var views = new TorchInterop(KernelHost.For(CPU), "test op");
        var error = Assert.Throws<ArgumentException>(() => views.Float32(zeros(2, 3), "x", 3, 2));
        Assert.Equal("test op: x must be (3, 2), got (2, 3)", error.Message);
    }

    [Fact]
    public void RefusesANonContiguousTensorByName()
    {
        using var views = new TorchInterop(KernelHost.For(CPU), "test op");
        var error = Assert.Throws<ArgumentException>(() => views.Float32(zeros(2, 3).t(), "x", 3, 2));
        Assert.Contains("x must be contiguous", error.Message);
    }

    [CudaFact]
    public void RefusesATensorOnAnotherDeviceByName()
    {
        using var views = new TorchInterop(KernelHost.For(CPU), "test op");
        var error = Assert.Throws<ArgumentException>(() => views.Float32(zeros(4, device: CUDA), "x", 4));
        Assert.Contains("x is on cuda", error.Message);
    }

    private static void WritesInPlace(Device device)
    {
        Tensor whole = arange(10, ScalarType.Float32, device);
        Tensor tail = whole[4..];                            // a view with a storage offset of 4
        KernelHost host = KernelHost.For(device);
        using (var views = new TorchInterop(host, "add one"))
        {
            ArrayView<float> view = views.Float32(tail, "tail", 6);
            host.Launch(accelerator => accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(AddOne)((int)view.Length, view));
        }
        float[] expected = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10];
        Assert.Equal(expected, whole.cpu().data<float>().ToArray());
    }
}
