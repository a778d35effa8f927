using System.Runtime.InteropServices;
using TorchSharp;

namespace Bmojo.Distributed;

/// <summary>NCCL's opaque unique id (<c>ncclUniqueId</c>: 128 bytes), made by rank 0 and shared through the rendezvous.</summary>
[StructLayout(LayoutKind.Sequential, Size = Length)]
public unsafe struct NcclUniqueId
{
    public const int Length = 128;

    private fixed byte bytes[Length];

    public byte[] ToArray()
    {
        var copy = new byte[Length];
        fixed (byte* source = bytes) new ReadOnlySpan<byte>(source, Length).CopyTo(copy);
        return copy;
    }

    public static NcclUniqueId From(ReadOnlySpan<byte> data)
    {
        if (data.Length != Length) throw new ArgumentException($"an NCCL unique id has {Length} bytes, got {data.Length}");
        var id = new NcclUniqueId();
        data.CopyTo(new Span<byte>(id.bytes, Length));
        return id;
    }
}

/// <summary>
/// NCCL (<c>libnccl.so.2</c>) through function pointers looked up when it is first used, so that a machine without
/// it (CI, a CPU box) runs everything else and gets one clear line when it asks for NCCL. The library is searched
/// as <see cref="Candidates"/> lists: an explicit <c>BMOJO_NCCL_LIBRARY</c>, else <c>libnccl.so.2</c> by the loader's
/// search (<c>LD_LIBRARY_PATH</c>; or the copy PyTorch's <c>libtorch_cuda.so</c> already loaded), else next to a
/// PyTorch <c>torch/lib</c> folder on <c>LD_LIBRARY_PATH</c>, where PyTorch's pip package <c>nvidia-nccl-cu13</c>
/// puts it (<c>site-packages/nvidia/nccl/lib</c>, or <c>nvidia/cu13/lib</c>).
/// </summary>
public static unsafe class Nccl
{
    public const string LibraryVariable = "BMOJO_NCCL_LIBRARY";
    public const string SoName = "libnccl.so.2";

    internal const string Hint =
        "put NCCL's lib folder on LD_LIBRARY_PATH (PyTorch's pip package nvidia-nccl-cu13: " +
        "export LD_LIBRARY_PATH=$(python3 -c \"import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], 'lib'))\"):$LD_LIBRARY_PATH) " +
        $"or set {LibraryVariable} to the file";

    // ncclResult_t values (nccl.h).
    internal const int Success = 0;

    // ncclRedOp_t.
    internal const int Sum = 0;

    private static readonly Lazy<Api> Loaded = new(() => Load(Candidates(
        Environment.GetEnvironmentVariable(LibraryVariable), Environment.GetEnvironmentVariable("LD_LIBRARY_PATH"))));

    /// <summary>Where NCCL is looked for, in order.</summary>
    public static IReadOnlyList<string> Candidates(string? explicitPath, string? ldLibraryPath)
    {
        if (!string.IsNullOrEmpty(explicitPath)) return [explicitPath];
        var candidates = new List<string> { SoName };
        foreach (string directory in (ldLibraryPath ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string trimmed = directory.TrimEnd('/');
            if (trimmed.EndsWith("torch/lib", StringComparison.Ordinal))
            {
                candidates.Add(Path.GetFullPath(Path.Combine(trimmed, "..", "..", "nvidia", "nccl", "lib", SoName)));
                candidates.Add(Path.GetFullPath(Path.Combine(trimmed, "..", "..", "nvidia", "cu13", "lib", SoName)));   // CUDA 13 wheels' shared folder
            }
        }
        return candidates.Distinct().ToList();
    }

    /// <summary>True when NCCL loads here (it is then loaded).</summary>
    public static bool IsAvailable
    {
        get
        {
            try
            {
                _ = Loaded.Value;
                return true;
            }
            catch (DistributedError)
            {
                return false;
            }
        }
    }

    /// <summary>NCCL's version as it reports it (e.g. 22703 for 2.27.3).</summary>
    public static int Version
    {
        get
        {
            int version;
            Check(Loaded.Value.GetVersion(&version), "ncclGetVersion");
            return version;
        }
    }

    /// <summary>The version as NCCL writes it, 2.27.3 for 22703 (codes from 2.9 on are major·10000 + minor·100 + patch).</summary>
    public static string VersionText
    {
        get
        {
            int v = Version;
            return v >= 10000 ? $"{v / 10000}.{v / 100 % 100}.{v % 100}" : $"{v / 1000}.{v / 100 % 10}.{v % 100}";
        }
    }

    /// <summary>Loads NCCL from the first of <paramref name="candidates"/> that loads and has its entry points.</summary>
    /// <exception cref="DistributedError">None loads: the message names what was tried and how to fix it.</exception>
    internal static Api Load(IReadOnlyList<string> candidates)
    {
        foreach (string candidate in candidates)
        {
            if (!NativeLibrary.TryLoad(candidate, out IntPtr handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "ncclCommInitRank", out _))
                throw new DistributedError($"NCCL: '{candidate}' loaded but has no ncclCommInitRank; is it NCCL?");
            return new Api(handle);
        }
        throw new DistributedError($"NCCL is not available: could not load {SoName} (tried {string.Join(", ", candidates)}); {Hint}");
    }

    internal static Api Functions => Loaded.Value;

    public static NcclUniqueId GetUniqueId()
    {
        NcclUniqueId id;
        Check(Functions.GetUniqueId(&id), "ncclGetUniqueId");
        return id;
    }

    /// <summary>Throws on a result other than success, with NCCL's own words.</summary>
    internal static void Check(int result, string call, IntPtr comm = default)
    {
        if (result == Success) return;
        Api api = Functions;
        string text = Marshal.PtrToStringUTF8(api.GetErrorString(result)) ?? $"error {result}";
        string last = comm != IntPtr.Zero && api.GetLastError != null ? Marshal.PtrToStringUTF8(api.GetLastError(comm)) ?? "" : "";
        throw new DistributedError($"NCCL {call} failed: {text} ({result})" + (last.Length > 0 ? $": {last}" : "") +
                                   " (NCCL_DEBUG=INFO shows more)");
    }

    /// <summary>True when NCCL carries tensors of <paramref name="dtype"/>.</summary>
    internal static bool Carries(torch.ScalarType dtype) => dtype is torch.ScalarType.Int8 or torch.ScalarType.Byte or torch.ScalarType.Bool
        or torch.ScalarType.Int32 or torch.ScalarType.Int64 or torch.ScalarType.Float16 or torch.ScalarType.Float32
        or torch.ScalarType.Float64 or torch.ScalarType.BFloat16;

    /// <summary>ncclDataType_t of a torch dtype.</summary>
    internal static int DataType(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.Int8 => 0,
        torch.ScalarType.Byte or torch.ScalarType.Bool => 1,   // a bool is one byte, 0 or 1: broadcast only
        torch.ScalarType.Int32 => 2,
        torch.ScalarType.Int64 => 4,
        torch.ScalarType.Float16 => 6,
        torch.ScalarType.Float32 => 7,
        torch.ScalarType.Float64 => 8,
        torch.ScalarType.BFloat16 => 9,
        _ => throw new ArgumentException($"NCCL cannot reduce {dtype} tensors"),
    };

    /// <summary>The entry points of one loaded NCCL.</summary>
    internal sealed class Api(IntPtr handle)
    {
        public readonly delegate* unmanaged<int*, int> GetVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(handle, "ncclGetVersion");
        public readonly delegate* unmanaged<NcclUniqueId*, int> GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)NativeLibrary.GetExport(handle, "ncclGetUniqueId");
        public readonly delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int> CommInitRank =
            (delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int>)NativeLibrary.GetExport(handle, "ncclCommInitRank");
        // ncclAllReduce(sendbuff, recvbuff, count, datatype, op, comm, stream)
        public readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> AllReduce =
            (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)NativeLibrary.GetExport(handle, "ncclAllReduce");
        // ncclBroadcast(sendbuff, recvbuff, count, datatype, root, comm, stream)
        public readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> Broadcast =
            (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)NativeLibrary.GetExport(handle, "ncclBroadcast");
        public readonly delegate* unmanaged<int> GroupStart = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "ncclGroupStart");
        public readonly delegate* unmanaged<int> GroupEnd = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "ncclGroupEnd");
        public readonly delegate* unmanaged<IntPtr, int> CommDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(handle, "ncclCommDestroy");
        public readonly delegate* unmanaged<IntPtr, int> CommAbort = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(handle, "ncclCommAbort");
        public readonly delegate* unmanaged<int, IntPtr> GetErrorString = (delegate* unmanaged<int, IntPtr>)NativeLibrary.GetExport(handle, "ncclGetErrorString");
        // ncclGetLastError exists from NCCL 2.13 on.
        public readonly delegate* unmanaged<IntPtr, IntPtr> GetLastError =
            NativeLibrary.TryGetExport(handle, "ncclGetLastError", out IntPtr last) ? (delegate* unmanaged<IntPtr, IntPtr>)last : null;
    }
}
