using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;
using Device = TorchSharp.torch.Device;

namespace Bmojo.Runtime.Tests.Gpu;

/// <summary>The tensor-core tile products (<see cref="Mma"/>) against torch matmuls in float64: on ILGPU's CPU
/// accelerator (the fragments gathered with shuffles) and on CUDA (the real <c>mma.sync</c>), so a mistake in the
/// fragment layout shows up here and not only as a wrong attention output.</summary>
public sealed class MmaTileTests
{
    [Fact]
    public void TileProductsMatchMatmulsOnCpu() => CheckProducts(CPU);

    [CudaFact]
    public void TileProductsMatchMatmulsOnCuda() => CheckProducts(CUDA);

    [Fact]
    public void Bf16PackingRoundsToNearestEvenLikeTorch()
    {
        Tensor x = cat([randn(4000) * 100, tensor(new[] { 1f + 1f / 256, 1f + 3f / 256, -0f, 3.4e38f, 1e-40f, float.PositiveInfinity })]);
        float[] values = x.data<float>().ToArray();
        byte[] bytes = x.to_type(ScalarType.BFloat16).bytes.ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            int torchBits = bytes[2 * i] | (bytes[2 * i + 1] << 8);
            Assert.True(torchBits == Bf16.Round(values[i]), $"bf16 of {values[i]:G9}: torch {torchBits:X4}, ours {Bf16.Round(values[i]):X4}");
        }
    }

    private static void CheckProducts(Device device)
    {
        manual_seed(31);
        Tensor a = randn(16, 64).to_type(ScalarType.BFloat16);                  // A: 16 x 64
        Tensor b = randn(64, 64).to_type(ScalarType.BFloat16);                  // B: 64 rows of 64
        Tensor outputs = full(3, 16, 64, float.NaN, device: device);            // poisoned: every element must be written
        KernelHost host = KernelHost.For(device);
        using (var views = new TorchInterop(host, "mma probe"))
        {
            Tensor ad = a.to(device).contiguous(), bd = b.to(device).contiguous();
            var arguments = new MmaProbeArguments
            {
                A = views.Bf16Pairs(ad, "a", 16, 64),
                B = views.Bf16Pairs(bd, "b", 64, 64),
                Output = views.Float32(outputs, "outputs", 3, 16, 64),
            };
            host.Launch(accelerator => Probe.On(accelerator)(
                (1, SharedTiles.Threads, SharedMemoryConfig.RequestDynamic<uint>(2 * Mma.TileUints + Mma.Size)), arguments));
        }
        Tensor a64 = a.to_type(ScalarType.Float64), b64 = b.to_type(ScalarType.Float64);
        Tensor abt = a64.matmul(b64.t()), ab = a64.matmul(b64);
        Tensor packed = abt.to_type(ScalarType.Float32).to_type(ScalarType.BFloat16).to_type(ScalarType.Float64).matmul(b64);
        Tensor got = outputs.cpu();
        // Products of bf16 are exact in fp32; 64-term fp32 sums of terms up to ~10 stay within 1e-4.
        TensorAssert.Close(abt, got[0], 1e-4, 1e-5, $"A · Bᵀ (rows staged) on {device}");
        TensorAssert.Close(ab, got[1], 1e-4, 1e-5, $"A · B (transposed staging) on {device}");
        TensorAssert.Close(packed, got[2], 1e-4, 1e-5, $"bf16(A · Bᵀ) · B (accumulator packed as an operand) on {device}");
    }

    private static readonly TensorCoreKernel<MmaProbeArguments> Probe = new(ProbeKernel<CudaTensorCores>, ProbeKernel<EmulatedTensorCores>);

    internal struct MmaProbeArguments
    {
        public ArrayView<uint> A, B;
        public ArrayView<float> Output;
    }

    // One block of 4 warps: B staged as rows and transposed; every warp computes, warp 0 writes.
    internal static void ProbeKernel<TCores>(MmaProbeArguments p) where TCores : struct, ITensorCores
    {
        TCores cores = default;
        ArrayView<uint> shared = SharedMemory.GetDynamic<uint>();
        SharedTile rows = SharedTile.At(shared, 0), transposed = SharedTile.At(shared, Mma.TileUints);
        ArrayView<uint> offsets = shared.SubView(2 * Mma.TileUints, Mma.Size);
        int thread = Group.IdxX, lane = thread & 31, g = lane >> 2;
        if (thread < Mma.Size) offsets[thread] = (uint)(thread * 32);
        Group.Barrier();
        SharedTiles.StageRows(rows, p.B, offsets, thread);
        SharedTiles.StageTransposed(transposed, p.B, offsets, thread);
        Group.Barrier();
        Operand16x64 a = Mma.LoadRows(p.A, g * 32, (g + 8) * 32, lane);
        Tile16x64 abt = default, ab = default, packed = default;
        cores.Accumulate(ref abt, a, rows, lane);
        cores.Accumulate(ref ab, a, transposed, lane);
        cores.Accumulate(ref packed, cores.Pack(abt), transposed, lane);
        if (thread >= 32) return;
        SharedTiles.StoreFloat(p.Output, g * 64, (g + 8) * 64, abt, 1f, lane);
        SharedTiles.StoreFloat(p.Output, 1024 + g * 64, 1024 + (g + 8) * 64, ab, 1f, lane);
        SharedTiles.StoreFloat(p.Output, 2048 + g * 64, 2048 + (g + 8) * 64, packed, 1f, lane);
    }
}
