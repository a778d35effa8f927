using Bmojo.Cli.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>A view of a token file as one stream: some of its ranges, in order.</summary>
public sealed class TokenStream
{
    private readonly TokenFile file;
    private readonly (long Start, long Length)[] segments;
    private readonly long[] offsets;   // offsets[i]: position in the stream where segment i starts

    public TokenStream(TokenFile file, IEnumerable<(long Start, long Length)> ranges)
    {
        this.file = file;
        segments = ranges.Where(r => r.Length > 0).ToArray();
        offsets = new long[segments.Length + 1];
        for (int i = 0; i < segments.Length; i++) offsets[i + 1] = offsets[i] + segments[i].Length;
    }

    public long Length => offsets[^1];

    /// <summary>Tokens [position, position + count) of the stream, across its ranges.</summary>
    public long[] Read(long position, int count)
    {
        if (position < 0 || count < 0 || position + count > Length)
            throw new ArgumentOutOfRangeException(nameof(position), $"tokens [{position}, {position + count}) are outside the stream's {Length}");
        var result = new long[count];
        int segment = Array.BinarySearch(offsets, position);
        if (segment < 0) segment = ~segment - 1;
        int done = 0;
        while (done < count)
        {
            while (offsets[segment + 1] <= position + done) segment++;
            long inSegment = position + done - offsets[segment];
            int take = (int)Math.Min(count - done, segments[segment].Length - inSegment);
            file.Read(segments[segment].Start + inSegment, take).CopyTo(result, done);
            done += take;
        }
        return result;
    }
}

/// <summary>A batch of packed sequences: <c>Inputs</c> <c>(B, L)</c> and <c>Targets</c> <c>(B, L)</c>, the inputs shifted
/// by one token, int64.</summary>
public sealed record LmBatch(long[] Inputs, long[] Targets, int Batch, int Length)
{
    public (Tensor Inputs, Tensor Targets) ToTensors(Device? device = null)
    {
        Tensor inputs = tensor(Inputs, new long[] { Batch, Length }, ScalarType.Int64);
        Tensor targets = tensor(Targets, new long[] { Batch, Length }, ScalarType.Int64);
        if (device is null || device.type == DeviceType.CPU) return (inputs, targets);
        return (inputs.to(device), targets.to(device));
    }
}

/// <summary>
/// The training and held-out parts of a token file. Each document (its tokens and the end-of-text id after them)
/// gives its last <c>heldOutFraction</c> of tokens to the held-out stream and the rest, followed by the end-of-text
/// id, to the training stream, so both hold every book, and held-out text is never trained on. Sequences are packed: a window of L + 1 tokens of a
/// stream may cross a document boundary, marked by the end-of-text id (as GPT-2 and nanoGPT train).
/// </summary>
public sealed class TokenSplit
{
    public TokenSplit(TokenFile file, double heldOutFraction)
    {
        if (!(heldOutFraction > 0 && heldOutFraction < 1))
            throw new UserError($"--held-out must be in (0, 1) (got {heldOutFraction})");
        HeldOutFraction = heldOutFraction;
        var train = new List<(long, long)>();
        var heldOut = new List<(long, long)>();
        IReadOnlyList<long> starts = file.Info.DocumentStarts;
        for (int d = 0; d < starts.Count; d++)
        {
            long start = starts[d], end = d + 1 < starts.Count ? starts[d + 1] : file.Length, length = end - start;
            long held = length < 2 ? 0 : Math.Max(1, (long)Math.Round(length * heldOutFraction));
            train.Add((start, length - held));
            if (held > 0) train.Add((end - 1, 1));                 // the document's end-of-text id ends its training part too
            heldOut.Add((end - held, held));
        }
        Train = new TokenStream(file, train);
        HeldOut = new TokenStream(file, heldOut);
    }

    public double HeldOutFraction { get; }

    public TokenStream Train { get; }

    public TokenStream HeldOut { get; }

    /// <summary>Why sequences of <paramref name="length"/> cannot be drawn, or null.</summary>
    public string? Check(int length)
    {
        if (Train.Length < length + 1) return $"the training split has {Train.Length} tokens, fewer than one sequence of {length} + 1";
        if (HeldOut.Length < length + 1) return $"the held-out split has {HeldOut.Length} tokens, fewer than one sequence of {length} + 1";
        return null;
    }

    /// <summary><paramref name="batch"/> windows of <paramref name="length"/> + 1 training tokens at uniform random
    /// starts drawn from <paramref name="rng"/>.</summary>
    public LmBatch Sample(DataRng rng, int batch, int length)
    {
        long positions = Train.Length - length;   // starts 0 .. Length - length - 1
        var inputs = new long[batch * length];
        var targets = new long[batch * length];
        for (int b = 0; b < batch; b++)
        {
            long start = (long)(rng.NextDouble() * positions);
            long[] window = Train.Read(start, length + 1);
            Array.Copy(window, 0, inputs, b * length, length);
            Array.Copy(window, 1, targets, b * length, length);
        }
        return new LmBatch(inputs, targets, batch, length);
    }

    /// <summary>The held-out stream cut into consecutive windows of <paramref name="length"/> + 1 tokens (stride
    /// <paramref name="length"/>), at most <paramref name="maxSequences"/>, in batches of <paramref name="batch"/>.</summary>
    public IEnumerable<LmBatch> HeldOutBatches(int length, int batch, int maxSequences)
    {
        long available = (HeldOut.Length - 1) / length;
        int sequences = (int)Math.Min(available, maxSequences);
        for (int first = 0; first < sequences; first += batch)
        {
            int count = Math.Min(batch, sequences - first);
            var inputs = new long[count * length];
            var targets = new long[count * length];
            for (int b = 0; b < count; b++)
            {
                long[] window = HeldOut.Read((long)(first + b) * length, length + 1);
                Array.Copy(window, 0, inputs, b * length, length);
                Array.Copy(window, 1, targets, b * length, length);
            }
            yield return new LmBatch(inputs, targets, count, length);
        }
    }
}
