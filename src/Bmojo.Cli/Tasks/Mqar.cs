using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Tasks;

/// <summary>One MQAR setting: sequence length and number of key-value pairs.</summary>
public sealed record MqarConfig(int SeqLen, int KvPairs)
{
    public override string ToString() => $"L={SeqLen}, kv={KvPairs}";
}

/// <summary>A batch of MQAR examples, row-major <c>(B, L)</c>; <see cref="Mqar.IgnoreIndex"/> where no answer is due.</summary>
public sealed record MqarBatch(int Batch, MqarConfig Config, long[] Inputs, long[] Labels)
{
    /// <summary>Inputs and labels as int64 tensors <c>(B, L)</c>.</summary>
    public (Tensor Inputs, Tensor Labels) ToTensors() =>
        (tensor(Inputs, new long[] { Batch, Config.SeqLen }, ScalarType.Int64),
         tensor(Labels, new long[] { Batch, Config.SeqLen }, ScalarType.Int64));

    /// <summary>Inputs and labels as int64 tensors <c>(B, L)</c> on <paramref name="device"/>.</summary>
    public (Tensor Inputs, Tensor Labels) ToTensors(Device device)
    {
        (Tensor inputs, Tensor labels) = ToTensors();
        if (device.type == DeviceType.CPU) return (inputs, labels);
        return (inputs.to(device), labels.to(device));
    }

    public int AnswerCount => Labels.Count(l => l != Mqar.IgnoreIndex);
}

/// <summary>
/// Multi-query associative recall, as HazyResearch/zoology <c>zoology/data/multiquery_ar.py</c> generates it:
/// <c>kv</c> key-value pairs first (keys from the lower half of the vocabulary without token 0, values from the
/// upper half, each drawn without replacement), then each key asked once more at an even offset of the query
/// region chosen with power-law gaps, <c>p(g) ∝ a·g^(a-1)</c>. The label at a query key is its value (next-token
/// prediction); every other label is ignored. Filler positions get uniform random tokens.
/// </summary>
public sealed class Mqar
{
    public const long IgnoreIndex = -100;

    public Mqar(int vocab, double powerA = 0.01, bool randomNonQueries = true)
    {
        if (vocab < 4) throw new ArgumentOutOfRangeException(nameof(vocab), vocab, "MQAR needs a vocabulary of at least 4 tokens");
        if (powerA <= 0) throw new ArgumentOutOfRangeException(nameof(powerA), powerA, "the power-law exponent must be positive");
        Vocab = vocab;
        PowerA = powerA;
        RandomNonQueries = randomNonQueries;
    }

    public int Vocab { get; }

    public double PowerA { get; }

    public bool RandomNonQueries { get; }

    /// <summary>Keys are tokens 1 .. KeyVocab-1.</summary>
    public int KeyVocab => Vocab / 2;

    /// <summary>Why <paramref name="config"/> cannot be generated with this vocabulary, or null when it can.</summary>
    public string? Check(MqarConfig config)
    {
        if (config.SeqLen <= 0 || config.SeqLen % 2 != 0) return $"sequence length {config.SeqLen} must be positive and even";
        if (config.KvPairs <= 0) return $"kv pairs {config.KvPairs} must be positive";
        if (4 * config.KvPairs > config.SeqLen)
            return $"{config.KvPairs} kv pairs need a sequence of at least {4 * config.KvPairs} tokens, not {config.SeqLen}";
        if (config.KvPairs > KeyVocab - 1 || config.KvPairs > Vocab - KeyVocab)
            return $"{config.KvPairs} distinct keys do not fit a vocabulary of {Vocab} (at most {Math.Min(KeyVocab - 1, Vocab - KeyVocab)})";
        return null;
    }

    /// <summary>Draws <paramref name="batch"/> examples of <paramref name="config"/> from <paramref name="rng"/>.</summary>
    public MqarBatch Sample(DataRng rng, int batch, MqarConfig config)
    {
        if (Check(config) is string problem) throw new ArgumentException(problem, nameof(config));
        int seqLen = config.SeqLen, kv = config.KvPairs;
        var inputs = new long[batch * seqLen];
        var labels = new long[batch * seqLen];
        Array.Fill(labels, IgnoreIndex);
        double[] gapWeights = PowerLaw(Space(config));
        var weights = new double[gapWeights.Length];
        for (int b = 0; b < batch; b++)
        {
            Span<long> x = inputs.AsSpan(b * seqLen, seqLen);
            Span<long> y = labels.AsSpan(b * seqLen, seqLen);
            int[] keys = Distinct(rng, 1, KeyVocab, kv);
            int[] values = Distinct(rng, KeyVocab, Vocab, kv);
            for (int i = 0; i < kv; i++)
            {
                x[2 * i] = keys[i];
                x[2 * i + 1] = values[i];
            }
            gapWeights.CopyTo(weights, 0);
            int context = 2 * kv;
            for (int i = 0; i < kv; i++)
            {
                int position = context + 2 * DrawWithoutReplacement(rng, weights);
                x[position] = keys[i];
                y[position] = values[i];
            }
            if (RandomNonQueries)
                for (int t = 0; t < seqLen; t++)
                    if (x[t] == 0) x[t] = rng.NextInt(Vocab);
        }
        return new MqarBatch(batch, config, inputs, labels);
    }

    /// <summary>Query slots: the even offsets of the region after the key-value pairs.</summary>
    private static int Space(MqarConfig config) => (config.SeqLen - 2 * config.KvPairs) / 2;

    /// <summary>Unnormalised power-law weights <c>a·g^(a-1)</c> for gaps g = 1 .. space.</summary>
    private double[] PowerLaw(int space)
    {
        var p = new double[space];
        for (int g = 0; g < space; g++) p[g] = PowerA * Math.Pow(g + 1, PowerA - 1);
        return p;
    }

    /// <summary>Draws an index with probability proportional to its weight, then removes it (weight set to 0).</summary>
    private static int DrawWithoutReplacement(DataRng rng, double[] weights)
    {
        double total = 0;
        foreach (double w in weights) total += w;
        double u = rng.NextDouble() * total;
        int last = -1;
        for (int i = 0; i < weights.Length; i++)
        {
            if (weights[i] == 0) continue;
            last = i;
            u -= weights[i];
            if (u < 0) break;
        }
        weights[last] = 0;
        return last;
    }

    /// <summary><paramref name="count"/> distinct tokens of [lo, hi), in random order (partial Fisher-Yates).</summary>
    /// <remarks>The pool [lo, hi) is not materialised: only the swapped slots are kept (a vocabulary of 8,192 drew
    /// 8,192 integers per example before), the draws and the result are those of the full array.</remarks>
    private static int[] Distinct(DataRng rng, int lo, int hi, int count)
    {
        int size = hi - lo;
        var swapped = new Dictionary<int, int>(2 * count);
        int At(int i) => swapped.TryGetValue(i, out int v) ? v : lo + i;
        var result = new int[count];
        for (int i = 0; i < count; i++)
        {
            int j = i + rng.NextInt(size - i);
            int atJ = At(j);
            swapped[j] = At(i);
            result[i] = atJ;
        }
        return result;
    }
}
