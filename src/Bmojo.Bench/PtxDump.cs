using System.Reflection;
using System.Text.RegularExpressions;
using Bmojo.Runtime.Gpu;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Bmojo.Bench;

/// <summary>
/// Compiles every fused kernel to PTX for sm_90 without a GPU (ILGPU's PTX backend, the settings of
/// <see cref="KernelHost"/>), writes one <c>.ptx</c> file a kernel and prints what matters for speed: local memory
/// (register arrays that ILGPU or ptxas could not keep in registers), tensor-core, special-function, shared-memory
/// and barrier instructions. On a machine with the CUDA toolkit, <c>ptxas -arch=sm_90 -v FILE.ptx</c> then gives
/// registers, stack frame and spills.
/// </summary>
public sealed class PtxDump(TextWriter output)
{
    /// <summary>The kernels: static methods in the operations' folders (<c>Bmojo.Runtime.Ops.*</c>) whose one parameter
    /// is an <c>*Arguments</c> struct (the explicitly grouped kernels the runtime launches).</summary>
    public static IEnumerable<MethodInfo> Kernels() =>
        typeof(KernelHost).Assembly.GetTypes()
            .Where(t => t.Namespace?.StartsWith("Bmojo.Runtime.Ops.", StringComparison.Ordinal) == true)
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void) && m.GetParameters() is [{ ParameterType: { IsValueType: true } type }]
                        && type.Name.EndsWith("Arguments", StringComparison.Ordinal))
            .SelectMany(Instances)
            .OrderBy(m => m.DeclaringType!.Name).ThenBy(Name, StringComparer.Ordinal);

    /// <summary>What the runtime loads of a kernel: itself, or of a generic one the CUDA tensor-core instance, or both
    /// of the scan kernels' instances (fp32 and bf16 tensors).</summary>
    private static IEnumerable<MethodInfo> Instances(MethodInfo kernel)
    {
        if (!kernel.IsGenericMethodDefinition) return [kernel];
        Type[] constraints = kernel.GetGenericArguments()[0].GetGenericParameterConstraints();
        if (constraints.Contains(typeof(ITensorCores))) return [kernel.MakeGenericMethod(typeof(CudaTensorCores))];
        if (constraints.Contains(typeof(Bmojo.Runtime.Ops.SelectiveScan.IScanElements)))
            return [kernel.MakeGenericMethod(typeof(Bmojo.Runtime.Ops.SelectiveScan.Fp32Elements)),
                    kernel.MakeGenericMethod(typeof(Bmojo.Runtime.Ops.SelectiveScan.Bf16Elements))];
        throw new InvalidOperationException($"{kernel.DeclaringType!.Name}.{kernel.Name}: no instance known for its type parameter");
    }

    /// <summary>The kernel's file and row name: type and method, and after an underscore the type argument of a scan
    /// instance.</summary>
    private static string Name(MethodInfo m) =>
        $"{m.DeclaringType!.Name}.{m.Name}" + (m.IsGenericMethod && !UsesTensorCores(m) ? $"_{m.GetGenericArguments()[0].Name}" : "");

    private static bool UsesTensorCores(MethodInfo m) => m.IsGenericMethod && m.GetGenericArguments()[0] == typeof(CudaTensorCores);

    /// <returns>The number of kernels that failed to compile.</returns>
    public int Run(string directory, string filter)
    {
        Directory.CreateDirectory(directory);
        using Context context = Context.Create(builder => KernelHost.Configure(builder).Cuda());
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
        int failed = 0;
        foreach (MethodInfo kernel in Kernels().Where(m => Name(m).Contains(filter, StringComparison.Ordinal)))
        {
            string name = Name(kernel);
            try
            {
                var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization());
                string ptx = compiled.PTXAssembly;
                if (UsesTensorCores(kernel))                         // the tensor-core kernels load with their locals promoted
                    ptx = PtxLocals.Promote(ptx, out int promoted);
                File.WriteAllText(Path.Combine(directory, name + ".ptx"), ptx);
                int localBytes = Regex.Matches(ptx, @"\.local \.align \d+ \.b8 \w+\[(\d+)\]").Sum(m => int.Parse(m.Groups[1].Value));
                output.WriteLine($"{name,-48} {ptx.Split('\n').Length,6} lines | local {localBytes} B: ld {Count(ptx, "ld.local")}, st {Count(ptx, "st.local")} | "
                                 + $"mma {Count(ptx, "mma.sync")}, ldmatrix {Count(ptx, "ldmatrix")}, ex2 {Count(ptx, "ex2.")}, "
                                 + $"ld.shared {Count(ptx, "ld.shared")}, st.shared {Count(ptx, "st.shared")}, atom/red {Regex.Matches(ptx, @"\s(atom|red)\.").Count}, "
                                 + $"shfl {Count(ptx, "shfl.")}, bar {Count(ptx, "bar.sync") + Count(ptx, "barrier.")}");
            }
            catch (Exception e)
            {
                output.WriteLine($"{name,-48} FAILED: {e.GetType().Name}: {e.Message}");
                failed++;
            }
        }
        return failed;
    }

    private static int Count(string text, string what) => Regex.Matches(text, Regex.Escape(what)).Count;
}
