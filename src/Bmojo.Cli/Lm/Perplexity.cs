using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>
/// Next-token negative log-likelihood and perplexity: for logits <c>z</c> at a position and the token <c>y</c> that
/// follows, <c>nll = logsumexp(z) - z[y]</c> (natural log, computed in fp32 or fp64); perplexity is
/// <c>exp(mean nll)</c> over all predicted tokens. <see cref="Add"/> accumulates token sums exactly (fp64), overall
/// and per position bucket (position p of a sequence falls in bucket p / bucketSize).
/// </summary>
public sealed class Perplexity
{
    private readonly int bucketSize;
    private readonly List<double> bucketSums = [];
    private readonly List<long> bucketCounts = [];

    /// <param name="bucketSize">Positions per bucket of <see cref="Buckets"/>; 0: no buckets.</param>
    public Perplexity(int bucketSize = 0) => this.bucketSize = bucketSize;

    public double NllSum { get; private set; }

    public long Tokens { get; private set; }

    public double MeanNll => Tokens == 0 ? double.NaN : NllSum / Tokens;

    public double Value => Math.Exp(MeanNll);

    /// <summary>Per-position NLL <c>(B, L)</c> of logits <c>(B, L, V)</c> against targets <c>(B, L)</c>.</summary>
    public static Tensor TokenNll(Tensor logits, Tensor targets)
    {
        ScalarType compute = logits.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        long batch = logits.shape[0], length = logits.shape[1], vocab = logits.shape[2];
        Tensor nll = nn.functional.cross_entropy(logits.to_type(compute).reshape(batch * length, vocab), targets.reshape(batch * length),
                                                 reduction: nn.Reduction.None);
        return nll.reshape(batch, length);
    }

    /// <summary>Adds per-position NLLs <c>(B, L)</c> whose first column is position <paramref name="offset"/>.</summary>
    public void Add(Tensor nll, long offset = 0)
    {
        double[] values = nll.detach().to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        long length = nll.shape[1];
        for (long i = 0; i < values.Length; i++)
        {
            NllSum += values[i];
            if (bucketSize <= 0) continue;
            int bucket = (int)((offset + i % length) / bucketSize);
            while (bucketSums.Count <= bucket)
            {
                bucketSums.Add(0);
                bucketCounts.Add(0);
            }
            bucketSums[bucket] += values[i];
            bucketCounts[bucket]++;
        }
        Tokens += values.Length;
    }

    /// <summary>Perplexity of each position bucket: (first position, last position, tokens, perplexity).</summary>
    public IReadOnlyList<(long First, long Last, long Tokens, double Perplexity)> Buckets =>
        Enumerable.Range(0, bucketSums.Count)
            .Where(b => bucketCounts[b] > 0)
            .Select(b => ((long)b * bucketSize, (long)(b + 1) * bucketSize - 1, bucketCounts[b], Math.Exp(bucketSums[b] / bucketCounts[b])))
            .ToList();
}
