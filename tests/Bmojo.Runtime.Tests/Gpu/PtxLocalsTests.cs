using System.Reflection;
using System.Text.RegularExpressions;
using Bmojo.Runtime.Gpu;
using Bmojo.Runtime.Ops.BmojoAttention;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Bmojo.Runtime.Tests.Gpu;

/// <summary>The promotion of ILGPU's scalar locals to registers: exact on a hand-written kernel, complete on the
/// tensor-core kernels compiled to PTX here (no GPU needed; the CUDA tests run the promoted kernels).</summary>
public sealed class PtxLocalsTests
{
    private const string Kernel = """
        .visible .entry Kernel_Probe(
        	.param .align 8 .b8 _p_1[8]
        )
        {
        	.local .align 4 .b8 	__local_depot0[4];
        	.local .align 8 .b8 	__local_depot1[8];
        	.local .align 4 .b8 	__local_depot2[4];
        	.local .align 4 .b8 	__local_depot3[64];
        	.reg .b32	%r<9>;
        	.reg .f32	%f<4>;
        	.reg .b64	%rd<12>;
        	mov.b64	%rd1, __local_depot0;
        	mov.b64	%rd2, __local_depot1;
        	mov.b64	%rd3, __local_depot2;
        	mov.b64	%rd4, __local_depot3;
        	st.local.f32	[%rd1], 0f3F800000;
        	ld.local.f32	%f1, [%rd1];
        	st.local.b64	[%rd2], %rd9;
        	ld.local.b64	%rd10, [%rd2];
        	st.local.b32	[%rd3+4], %r1;
        	add.u64	%rd11, %rd4, 8;
        	st.local.f32	[%rd11], %f1;
        	ret;
        }
        """;

    [Fact]
    public void WholeScalarLocalsBecomeRegistersAndTheRestStays()
    {
        string promoted = PtxLocals.Promote(Kernel, out int count);
        Assert.Equal(2, count);                                            // depot0 (4 bytes) and depot1 (8 bytes)
        Assert.Contains("mov.f32\t%lp0, 0f3F800000;", promoted);
        Assert.Contains("mov.f32\t%f1, %lp0;", promoted);
        Assert.Contains("mov.b64\t%lq1, %rd9;", promoted);
        Assert.Contains("mov.b64\t%rd10, %lq1;", promoted);
        Assert.Contains(".reg .b32\t%lp0;", promoted);
        Assert.Contains(".reg .b64\t%lq1;", promoted);
        Assert.DoesNotContain("__local_depot0", promoted);
        Assert.DoesNotContain("__local_depot1", promoted);
        Assert.Contains("st.local.b32\t[%rd3+4], %r1;", promoted);         // an offset: not a whole scalar, kept
        Assert.Contains("__local_depot3[64]", promoted);                   // an array: kept
        Assert.True(promoted.IndexOf("%lp0;", StringComparison.Ordinal) < promoted.IndexOf(".reg .b32\t%r<9>", StringComparison.Ordinal),
                    "the new registers are declared with the kernel's own");
    }

    [Fact]
    public void AKernelWithoutLocalsIsUnchanged()
    {
        string plain = Kernel.Replace("__local_depot", "__shared_thing");
        Assert.Equal(plain, PtxLocals.Promote(plain, out int count));
        Assert.Equal(0, count);
    }

    [Theory]
    [InlineData(nameof(TensorCoreAttentionKernel.Forward), typeof(TensorCoreAttentionKernel))]
    [InlineData(nameof(TensorCoreAttentionBackwardKernel.KeyGradients), typeof(TensorCoreAttentionBackwardKernel))]
    [InlineData(nameof(TensorCoreAttentionBackwardKernel.QueryGradients), typeof(TensorCoreAttentionBackwardKernel))]
    public void EveryLocalOfTheTensorCoreKernelsIsPromoted(string name, Type owner)
    {
        using Context context = Context.Create(builder => KernelHost.Configure(builder).Cuda());
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
        MethodInfo kernel = owner.GetMethod(name, BindingFlags.Static | BindingFlags.Public)!.MakeGenericMethod(typeof(CudaTensorCores));
        string ptx = ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
        Assert.Contains("ld.local", ptx);                                  // what ILGPU makes of the asm operands
        string promoted = PtxLocals.Promote(ptx, out int count);
        Assert.True(count > 100, $"{name}: only {count} locals promoted");
        Assert.DoesNotContain("ld.local", promoted);
        Assert.DoesNotContain("st.local", promoted);
        Assert.DoesNotContain("__local_depot", promoted);
        Assert.Equal(Regex.Matches(ptx, "mma.sync").Count, Regex.Matches(promoted, "mma.sync").Count);
        Assert.Equal(count, Regex.Matches(promoted, @"\.reg \.b(32|64)\t%l[pq]\d+;").Count);
    }
}
