using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Bmojo.DeviceTests.Runner;

/// <summary>
/// Runs an xUnit test assembly's facts and theories (with <c>MemberData</c>) by reflection, for the GPU machine,
/// which has the .NET runtime but no SDK (so no <c>dotnet test</c>). Skips are honoured (a fact's <c>Skip</c> is set
/// by attributes such as <c>CudaFact</c> when their condition fails). Prints one line a test and a summary.
/// </summary>
public sealed class TestAssemblyRunner
{
    private readonly TextWriter output;

    public TestAssemblyRunner(TextWriter output) => this.output = output;

    /// <param name="cudaOnly">Run only the facts that need a GPU (<c>CudaFact</c>): the rest runs in CI already.</param>
    /// <returns>The number of failed tests.</returns>
    public int Run(string assemblyPath, string filter, bool cudaOnly = false)
    {
        string path = Path.GetFullPath(assemblyPath);
        // The test assembly's references (xUnit, Bmojo.Runtime, TorchSharp...) from its own folder, else from this
        // tool's (where `bmojo`'s publish puts the runtime libraries).
        string[] folders = [Path.GetDirectoryName(path)!, AppContext.BaseDirectory];
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            folders.Select(f => Path.Combine(f, name.Name + ".dll")).FirstOrDefault(File.Exists) is string file
                ? context.LoadFromAssemblyPath(file)
                : null;
        // Their native libraries (libLibTorchSharp...) where a publish puts them, when the system's search (on the GPU
        // machine: LD_LIBRARY_PATH, the machine's CUDA libtorch first) does not find them.
        string native = Path.Combine("runtimes", RuntimeInformation.RuntimeIdentifier, "native");
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
            (from folder in folders
             from place in new[] { Path.Combine(folder, native), folder }
             from file in new[] { name, $"lib{name}.so", $"lib{name}.dylib", $"{name}.dll" }
             select Path.Combine(place, file)).FirstOrDefault(File.Exists) is string library
                ? NativeLibrary.Load(library)
                : IntPtr.Zero;
        Assembly assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
        int passed = 0, failed = 0, skipped = 0;
        foreach (Type type in assembly.GetTypes().Where(t => t.IsClass && !t.IsAbstract && t.FullName!.Contains(filter)).OrderBy(t => t.FullName))
        foreach (MethodInfo method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance).OrderBy(m => m.Name))
        {
            Attribute? fact = method.GetCustomAttributes().FirstOrDefault(a => IsFact(a.GetType()));
            if (fact is null || (cudaOnly && fact.GetType().Name != "CudaFactAttribute")) continue;
            string name = $"{type.FullName}.{method.Name}";
            if (fact.GetType().GetProperty("Skip")?.GetValue(fact) is string reason)
            {
                output.WriteLine($"  SKIP {name}: {reason}");
                skipped++;
                continue;
            }
            foreach (object?[] arguments in Cases(type, method))
            {
                string label = arguments.Length == 0 ? name : $"{name}({string.Join(", ", arguments)})";
                try
                {
                    method.Invoke(Activator.CreateInstance(type), arguments);
                    output.WriteLine($"  PASS {label}");
                    passed++;
                }
                catch (TargetInvocationException e)
                {
                    output.WriteLine($"  FAIL {label}: {e.InnerException?.GetType().Name}: {e.InnerException?.Message}");
                    failed++;
                }
                catch (Exception e) when (e is ArgumentException or TargetParameterCountException)
                {
                    output.WriteLine($"  FAIL {label}: the runner could not call it ({e.GetType().Name}: {e.Message})");
                    failed++;
                }
            }
        }
        output.WriteLine($"{(failed == 0 ? "Passed" : "Failed")}! - Failed: {failed}, Passed: {passed}, Skipped: {skipped}, Total: {passed + failed + skipped} - {Path.GetFileName(assemblyPath)} (filter '{filter}'{(cudaOnly ? ", CUDA facts only" : "")})");
        return failed;
    }

    private static bool IsFact(Type? attribute)
    {
        for (; attribute is not null; attribute = attribute.BaseType)
            if (attribute.FullName == "Xunit.FactAttribute") return true;
        return false;
    }

    private static IEnumerable<object?[]> Cases(Type type, MethodInfo method)
    {
        var sources = method.GetCustomAttributes()
            .Where(a => a.GetType().FullName is "Xunit.MemberDataAttribute" or "Xunit.InlineDataAttribute").ToList();
        if (sources.Count == 0) return [[]];
        return sources.SelectMany(source =>
        {
            if (source.GetType().FullName == "Xunit.InlineDataAttribute")
                return ((IEnumerable<object?[]>)source.GetType().GetMethod("GetData")!.Invoke(source, [method])!);
            string member = (string)source.GetType().GetProperty("MemberName")!.GetValue(source)!;
            Type owner = source.GetType().GetProperty("MemberType")?.GetValue(source) as Type ?? type;
            object data = owner.GetProperty(member, BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
            return ((System.Collections.IEnumerable)data).Cast<object?[]>();
        });
    }
}
