using Bmojo.Runtime;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>Perplexity of held-out sequences of one length, through one path.</summary>
/// <param name="Multiple">The length as a multiple of the training length.</param>
/// <param name="Path">"full" (one forward over the whole sequence) or "recurrent" (chunked prefill through the cache).</param>
public sealed record LengthPerplexity(int Length, int Multiple, string Path, int Sequences, long Tokens, double Perplexity,
                                      IReadOnlyList<(long First, long Last, long Tokens, double Perplexity)> Buckets);

/// <summary>
/// Length generalisation: held-out perplexity at multiples of the training length L (the paper's trained at L,
/// evaluated to 4x), through the full forward and through the recurrent path (chunks of L tokens through
/// <c>Forward(tokens, cache)</c>, the way a long prompt is prefilled), overall and per position bucket. Each length
/// reads the held-out stream from its start, in consecutive windows, so the lengths see the same text.
/// </summary>
public static class LmEvaluation
{
    /// <param name="tokenBudget">Held-out tokens per length (at least one sequence; fewer when the split is short).</param>
    /// <param name="bucketSize">Positions per bucket of the length curve.</param>
    /// <param name="recurrent">Also run the recurrent path.</param>
    public static IReadOnlyList<LengthPerplexity> Run(LmModel model, TokenSplit split, int trainLength, IReadOnlyList<int> multiples,
                                                      long tokenBudget, int batch, int bucketSize, bool recurrent,
                                                      Action<string>? progress = null)
    {
        var results = new List<LengthPerplexity>();
        model.Module.eval();
        using var noGrad = no_grad();
        foreach (int multiple in multiples)
        {
            int length = checked(trainLength * multiple);
            if (split.HeldOut.Length < length + 1)
                throw new UserError($"--eval-lengths {multiple}: the held-out split has {split.HeldOut.Length} tokens, fewer than one " +
                                    $"sequence of {length} + 1; use shorter lengths or a larger --held-out");
            int sequences = (int)Math.Max(1, tokenBudget / length);
            progress?.Invoke($"length {length} ({multiple}x): full forward");
            results.Add(Measure(model, split, length, multiple, sequences, batch, bucketSize, chunk: null));
            if (recurrent)
            {
                progress?.Invoke($"length {length} ({multiple}x): recurrent, chunks of {trainLength}");
                results.Add(Measure(model, split, length, multiple, sequences, batch, bucketSize, chunk: trainLength));
            }
        }
        return results;
    }

    /// <summary>Perplexity of the first <paramref name="sequences"/> held-out windows of <paramref name="length"/>;
    /// with <paramref name="chunk"/>, fed through the cache that many tokens at a time.</summary>
    public static LengthPerplexity Measure(LmModel model, TokenSplit split, int length, int multiple, int sequences, int batch,
                                           int bucketSize, int? chunk)
    {
        var meter = new Perplexity(bucketSize);
        int count = 0;
        foreach (LmBatch lm in split.HeldOutBatches(length, batch, sequences))
        {
            using var scope = NewDisposeScope();
            (Tensor inputs, Tensor targets) = lm.ToTensors(model.Device);
            if (chunk is not int size)
            {
                meter.Add(Perplexity.TokenNll(model.Forward(inputs), targets));
            }
            else
            {
                using ModelCache cache = model.AllocateCache(lm.Batch);
                for (int start = 0; start < length; start += size)
                {
                    using var chunkScope = NewDisposeScope();
                    int take = Math.Min(size, length - start);
                    Tensor logits = model.Forward(inputs[.., start..(start + take)], cache);
                    meter.Add(Perplexity.TokenNll(logits, targets[.., start..(start + take)]), offset: start);
                }
            }
            count += lm.Batch;
        }
        return new LengthPerplexity(length, multiple, chunk is null ? "full" : "recurrent", count, meter.Tokens, meter.Value, meter.Buckets);
    }
}
