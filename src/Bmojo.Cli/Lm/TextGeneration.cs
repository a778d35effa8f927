using System.Diagnostics;
using Bmojo.Cli.Tasks;
using Bmojo.Runtime;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>How the next token is drawn from the logits.</summary>
/// <param name="Temperature">Logits are divided by it; 0: greedy (the argmax, no randomness).</param>
/// <param name="TopK">Keep only the k most likely tokens (0: all).</param>
/// <param name="TopP">Nucleus sampling: keep the most likely tokens whose probabilities add up to at least p (1: all).</param>
/// <param name="Seed">Seeds the draws: the same seed, prompt and model give the same text.</param>
/// <param name="MaxTokens">Tokens generated after the prompt (fewer when the end-of-text token comes).</param>
public sealed record SamplingOptions(double Temperature = 1.0, int TopK = 0, double TopP = 1.0, long Seed = 0, int MaxTokens = 100)
{
    public static SamplingOptions Greedy(int maxTokens) => new(Temperature: 0, MaxTokens: maxTokens);

    public string? Check()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) return $"--temperature must be >= 0 (got {Temperature})";
        if (TopK < 0) return $"--top-k must be >= 0 (got {TopK})";
        if (!(TopP > 0 && TopP <= 1)) return $"--top-p must be in (0, 1] (got {TopP})";
        if (MaxTokens < 0) return $"--max-tokens must be >= 0 (got {MaxTokens})";
        return null;
    }

    /// <summary>The token drawn from one position's <paramref name="logits"/>.</summary>
    public int Pick(ReadOnlySpan<float> logits, DataRng rng)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        if (Temperature == 0) return best;

        int[] order = Enumerable.Range(0, logits.Length).ToArray();
        float[] keys = logits.ToArray();
        Array.Sort(keys.Select(k => -k).ToArray(), order);                    // most likely first (stable ties by id)
        int keep = TopK > 0 ? Math.Min(TopK, order.Length) : order.Length;
        var probabilities = new double[keep];
        double max = logits[order[0]] / Temperature, sum = 0;
        for (int i = 0; i < keep; i++) sum += probabilities[i] = Math.Exp(logits[order[i]] / Temperature - max);
        if (TopP < 1)
        {
            double cumulative = 0;
            int nucleus = keep;
            for (int i = 0; i < keep; i++)
            {
                cumulative += probabilities[i] / sum;
                if (cumulative >= TopP)
                {
                    nucleus = i + 1;
                    break;
                }
            }
            keep = nucleus;
            sum = probabilities.Take(keep).Sum();
        }
        double draw = rng.NextDouble() * sum;
        for (int i = 0; i < keep; i++)
        {
            draw -= probabilities[i];
            if (draw < 0) return order[i];
        }
        return order[keep - 1];
    }
}

/// <summary>The generated tokens and how fast they came.</summary>
/// <param name="Prefill">Time of the prompt's one chunked forward.</param>
/// <param name="Decode">Time of the token-by-token steps.</param>
public sealed record GenerationResult(IReadOnlyList<int> Tokens, TimeSpan Prefill, TimeSpan Decode)
{
    /// <summary>Generated tokens per second of decoding (the first token comes from the prefill).</summary>
    public double TokensPerSecond => Tokens.Count <= 1 || Decode.TotalSeconds <= 0 ? double.NaN : (Tokens.Count - 1) / Decode.TotalSeconds;
}

/// <summary>
/// Autoregressive generation through the recurrent cache: the prompt goes through <c>Forward(tokens, cache)</c> once
/// (prefill), then each drawn token through it alone, so a step costs the model's per-token inference (a fixed state
/// for Mamba and B'MOJO, a growing KV cache for attention) instead of a forward over the whole text.
/// </summary>
public static class TextGeneration
{
    /// <param name="stopToken">Generation ends after this token (the end-of-text id), or null.</param>
    /// <param name="onToken">Told each token as it comes (to print it).</param>
    public static GenerationResult Generate(LmModel model, IReadOnlyList<int> prompt, SamplingOptions options, int? stopToken = null,
                                            Action<int>? onToken = null)
    {
        if (options.Check() is string problem) throw new UserError(problem);
        if (prompt.Count == 0) throw new UserError("the prompt is empty: generation needs at least one token to start from");
        long vocab = model.Definition.Settings.Vocab;
        if (prompt.Any(t => t < 0 || t >= vocab)) throw new UserError($"the prompt has token ids outside {model.Definition.Name}'s vocab {vocab}");
        var rng = new DataRng(unchecked((ulong)options.Seed));
        var tokens = new List<int>();
        model.Module.eval();
        using var noGrad = no_grad();
        using ModelCache cache = model.AllocateCache(1);
        var clock = Stopwatch.StartNew();
        float[] last = LastLogits(model, prompt.Select(t => (long)t).ToArray(), cache);
        TimeSpan prefill = clock.Elapsed;
        clock.Restart();
        for (int i = 0; i < options.MaxTokens; i++)
        {
            int next = options.Pick(last, rng);
            tokens.Add(next);
            onToken?.Invoke(next);
            if (next == stopToken || i == options.MaxTokens - 1) break;
            last = LastLogits(model, [next], cache);
        }
        return new GenerationResult(tokens, prefill, clock.Elapsed);
    }

    private static float[] LastLogits(LmModel model, long[] chunk, ModelCache cache)
    {
        using var scope = NewDisposeScope();
        Tensor input = tensor(chunk, new long[] { 1, chunk.Length }, ScalarType.Int64).to(model.Device);
        Tensor logits = model.Forward(input, cache);                                   // (1, T, V)
        return logits[0, -1].to_type(ScalarType.Float32).cpu().data<float>().ToArray();
    }
}
