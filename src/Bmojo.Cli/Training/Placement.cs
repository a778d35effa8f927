using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Training;

/// <summary>The precision a run computes in. Checkpoints are always fp32, whatever the run used.</summary>
public enum Precision
{
    /// <summary>Every parameter and activation in fp32.</summary>
    Fp32,

    /// <summary>bf16 weights and activations; <c>A_log</c>, <c>D</c> and the dt bias stay fp32 (the Mamba, Mamba-2 SSD and
    /// B'MOJO layers keep them through <c>.to(bfloat16)</c>, docs/layers.md); the loss is computed in fp32.</summary>
    Bf16,
}

/// <summary>Where a run's tensors live and in which precision: <c>--device</c> and <c>--dtype</c> of train, eval
/// and compare, resolved once.</summary>
/// <param name="Device">The torch device of the model and of every batch.</param>
/// <param name="Precision">fp32, or bf16 with the fp32-kept parameters.</param>
/// <param name="Chosen">How the device was chosen: "asked for", or the default's reason.</param>
public sealed record Placement(Device Device, Precision Precision, string Chosen)
{
    /// <summary>fp32 on the CPU: what a test or a caller without options gets.</summary>
    public static Placement Cpu { get; } = new(CPU, Precision.Fp32, "asked for");

    public ScalarType DType => Precision == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;

    public bool OnCuda => Device.type == DeviceType.CUDA;

    /// <summary>The device as torch names it (<c>cpu</c>, <c>cuda:0</c>) and the precision: "cuda:0, bf16".</summary>
    public string Describe() => $"{DeviceName}, {Precision.ToString().ToLowerInvariant()}";

    public string DeviceName => OnCuda ? $"cuda:{Math.Max(Device.index, 0)}" : "cpu";

    /// <summary>Resolves <c>--device</c> (null: CUDA when torch sees a GPU, else the CPU) and <c>--dtype</c> (null:
    /// fp32). Problems are a <see cref="UserError"/> naming the option: an unknown value, CUDA asked for where torch
    /// sees no GPU, a device index the machine does not have.</summary>
    public static Placement Resolve(string? device, string? dtype) => Resolve(device, dtype, cuda.is_available, cuda.device_count);

    /// <summary><see cref="Resolve(string?, string?)"/> with the CUDA probes given (tests stand in for a GPU machine).</summary>
    public static Placement Resolve(string? device, string? dtype, Func<bool> cudaAvailable, Func<int> cudaDevices)
    {
        Precision precision = ParsePrecision(dtype) ?? throw new UserError($"--dtype must be one of: fp32, bf16 (got '{dtype}')");
        if (device is null)
            return cudaAvailable()
                ? new Placement(new Device(DeviceType.CUDA, 0), precision, "default: CUDA is available")
                : new Placement(CPU, precision, "default: CUDA is not available");
        string name = device.Trim().ToLowerInvariant();
        if (name == "cpu") return new Placement(CPU, precision, "asked for");
        int index = 0;
        if (name != "cuda")
        {
            if (!name.StartsWith("cuda:", StringComparison.Ordinal) ||
                !int.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out index))
                throw new UserError($"--device must be cpu, cuda or cuda:N (got '{device}')");
        }
        if (!cudaAvailable())
            throw new UserError($"--device {device}: CUDA is not available here (torch sees no GPU; this build may have the CPU " +
                                "libtorch, see README 'GPU'); use --device cpu");
        int count = cudaDevices();
        if (index >= count)
            throw new UserError($"--device {device}: this machine has {count} CUDA device{(count == 1 ? "" : "s")} (cuda:0" +
                                (count > 1 ? $" .. cuda:{count - 1}" : "") + ")");
        return new Placement(new Device(DeviceType.CUDA, index), precision, "asked for");
    }

    /// <summary>fp32 or bf16 (case-insensitive; null: fp32), or null for anything else.</summary>
    public static Precision? ParsePrecision(string? dtype) => dtype?.Trim().ToLowerInvariant() switch
    {
        null or "fp32" or "float32" => Precision.Fp32,
        "bf16" or "bfloat16" => Precision.Bf16,
        _ => null,
    };

    /// <summary>Moves a freshly built module here: to the device, then (bf16) cast, the layers keeping their fp32
    /// parameters. Initialisation happened before, on the CPU, so a run starts from the same weights everywhere.</summary>
    public void Apply(nn.Module module)
    {
        if (OnCuda) module.to(Device);
        if (Precision == Precision.Bf16) module.to(ScalarType.BFloat16);
    }
}
