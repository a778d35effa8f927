using System.Globalization;
using Bmojo.Runtime;

namespace Bmojo.Cli.Training;

/// <summary>
/// A rough but conservative estimate of the memory one training step needs, in bytes, checked before step 1 so that
/// a batch too large is refused in one line instead of the process being killed by the OS.
/// </summary>
/// <remarks>
/// <para>State: <c>16·P</c> (fp32 weights, gradients and AdamW's two moments).</para>
/// <para>Activations of one micro-batch of <c>b = ⌈B / grad-accum⌉</c> sequences of length <c>L</c>:
/// <c>b·L·(Σ_layers e·(34·d + S + 5·H·T) + 12·V)</c>, with <c>e</c> the bytes of an activation (4 fp32, 2 bf16),
/// <c>34·d</c> per token and layer as Korthikanti et al. count a transformer block's saved tensors (taken in elements,
/// not bytes: an overestimate that covers MLP and SSM blocks), <c>S</c> the layer's per-token state (an SSM's
/// <c>d_inner·N</c> the reference scan keeps for every position), <c>5·H·T</c> attention scores and their softmax for
/// <c>H = KV floats per token / 128</c> heads over the <c>T = min(L, the tokens it keeps)</c> tokens it attends, and
/// <c>12·V</c> the fp32 logits, their softmax and gradient.</para>
/// <para>Data: <c>32·B·L</c> (the whole batch's inputs and labels, int64, as arrays and as tensors).</para>
/// </remarks>
public sealed record TrainingMemory(long State, long Activations, long Data, int MicroBatch)
{
    public long Total => State + Activations + Data;

    public static TrainingMemory Of(ModelSettings settings, long parameters, int batch, int accumulation, int seqLen, Precision precision)
    {
        int micro = (batch + Math.Max(1, accumulation) - 1) / Math.Max(1, accumulation);
        return new TrainingMemory(16 * parameters, Times(micro, PerSequence(settings, seqLen, precision)), Times(32L * batch, seqLen), micro);
    }

    private static long Times(long a, long b) => (double)a * b >= long.MaxValue / 2 ? long.MaxValue / 2 : a * b;

    /// <summary>Activation bytes of one sequence of length <paramref name="seqLen"/>.</summary>
    public static long PerSequence(ModelSettings settings, int seqLen, Precision precision)
    {
        long element = precision == Precision.Bf16 ? 2 : 4;
        long perToken = 12L * settings.Vocab;
        foreach (LayerSettings layer in settings.Layers)
        {
            InferenceMemory memory = layer.Memory;
            long heads = memory.KvFloatsPerToken > 0 ? Math.Max(1, memory.KvFloatsPerToken / 128) : 0;
            long attended = Math.Min(memory.KvTokenCap ?? seqLen, seqLen);
            perToken += element * (34L * settings.DModel + memory.FixedFloats + 5 * heads * attended);
        }
        return perToken * seqLen;
    }

    /// <summary>Refuses, before step 1, a step that would not fit in the machine's available memory (CPU runs: MemAvailable;
    /// on CUDA the estimate is printed, not checked).</summary>
    /// <exception cref="UserError">It does not fit.</exception>
    public static void Check(Spectre.Console.IAnsiConsole output, ModelSettings settings, long parameters, int batch, int accumulation, int seqLen,
                             Placement placement, bool canAccumulate)
    {
        TrainingMemory need = Of(settings, parameters, batch, accumulation, seqLen, placement.Precision);
        if (placement.Device.type != TorchSharp.DeviceType.CPU)
        {
            Spectre.Console.AnsiConsoleExtensions.MarkupLine(output, Spectre.Console.Markup.Escape($"memory: about {Bytes(need.Total)} per step (not checked against the GPU's memory)"));
            return;
        }
        if (Available() is long available && need.Problem(available, batch, accumulation, canAccumulate) is string problem)
            throw new UserError(problem);
    }

    /// <summary>The machine's available memory (Linux <c>MemAvailable</c>), or null where it cannot be read.</summary>
    public static long? Available()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal) &&
                    long.TryParse(line["MemAvailable:".Length..].Trim().Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
                    return kb * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    /// <summary>Why this step does not fit in <paramref name="available"/> bytes (one line, with the estimate, the free
    /// memory and a --grad-accum that would fit), or null when it fits.</summary>
    /// <param name="canAccumulate">Whether the command has --grad-accum to suggest (else: a smaller --batch).</param>
    public string? Problem(long available, int batch, int accumulation, bool canAccumulate = true)
    {
        if (Total <= available) return null;
        string need = $"--batch {batch}{(accumulation > 1 ? $" --grad-accum {accumulation}" : "")} needs about {Bytes(Total)} to train " +
                      $"(activations {Bytes(Activations)} for micro-batches of {MicroBatch}, weights+gradients+AdamW {Bytes(State)}, batch data {Bytes(Data)}), " +
                      $"but {Bytes(available)} is available (MemAvailable)";
        long room = available - State - Data;
        long perSequence = Activations / Math.Max(1, MicroBatch);
        if (room <= perSequence || !canAccumulate) return need + "; use a smaller --batch";
        int fits = (int)Math.Max(1, room / perSequence);
        int parts = (batch + fits - 1) / fits;
        return parts <= batch
            ? need + $"; use --grad-accum {parts} (micro-batches of {(batch + parts - 1) / parts}, the same update) or a smaller --batch"
            : need + "; use a smaller --batch";
    }

    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KB", "MB", "GB", "TB", "PB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return value.ToString(unit == 0 ? "F0" : "F1", CultureInfo.InvariantCulture) + " " + units[unit];
    }
}
