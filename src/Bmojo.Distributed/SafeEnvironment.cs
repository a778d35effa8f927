using System.Runtime.InteropServices;

namespace Bmojo.Distributed;

/// <summary>
/// The environment every process that may use NCCL gets. NVLink multicast (NVLS) stays off in NCCL, PyTorch and
/// NVSHMEM: on the shared GPU hosts this project runs on, a program that uses multicast can put the host's GPUs out of
/// service (the device notes, KINDS.md). A value already set by the user is kept.
/// </summary>
public static class SafeEnvironment
{
    /// <summary>Variable and value set in every rank process and in this one before NCCL loads.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Defaults { get; } =
    [
        new("NCCL_NVLS_ENABLE", "0"),
        new("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1"),
        new("NVSHMEM_DISABLE_NVLS", "1"),
    ];

    /// <summary>Adds each default that <paramref name="environment"/> does not set already.</summary>
    public static void ApplyTo(IDictionary<string, string?> environment)
    {
        foreach ((string name, string value) in Defaults)
            if (!environment.TryGetValue(name, out string? given) || string.IsNullOrEmpty(given))
                environment[name] = value;
    }

    /// <summary>Sets the defaults in this process, in .NET's copy of the environment and in the C library's (which is
    /// what NCCL's <c>getenv</c> reads: .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not
    /// change it on Unix).</summary>
    public static void ApplyToThisProcess()
    {
        foreach ((string name, string value) in Defaults)
        {
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name))) continue;
            Environment.SetEnvironmentVariable(name, value);
            if (!OperatingSystem.IsWindows()) _ = setenv(name, value, 0);
        }
    }

    /// <summary>The C library's value of <paramref name="name"/> (what native code sees), or null.</summary>
    public static string? NativeValue(string name) =>
        OperatingSystem.IsWindows() ? Environment.GetEnvironmentVariable(name) : Marshal.PtrToStringUTF8(getenv(name));

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern IntPtr getenv(string name);
}
