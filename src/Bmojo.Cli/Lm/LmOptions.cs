namespace Bmojo.Cli.Lm;

/// <summary>Everything that fixes a language-modelling run's numbers; its checkpoint stores it, so a resumed run
/// follows the same schedule and draws the same batches.</summary>
/// <param name="Steps">Optimizer steps of the whole run (the cosine schedule ends here).</param>
/// <param name="Batch">Sequences per step.</param>
/// <param name="SeqLen">Training sequence length L (tokens per sequence).</param>
/// <param name="LearningRate">Peak learning rate, reached at the end of the warm-up.</param>
/// <param name="WarmupSteps">Linear warm-up steps.</param>
/// <param name="MinLearningRateRatio">The cosine decays to this fraction of the peak.</param>
/// <param name="WeightDecay">AdamW's decoupled weight decay on matrices.</param>
/// <param name="GradClip">Gradients are clipped to this global norm (0: no clipping).</param>
/// <param name="Seed">Seeds torch (initialisation) and the batch sampler.</param>
/// <param name="Tokenizer">The tokenizer's name (gpt2, bytes).</param>
/// <param name="HeldOut">Fraction of each document held out for validation.</param>
/// <param name="EvalSequences">Held-out sequences of length L per validation.</param>
public sealed record LmOptions(
    int Steps,
    int Batch,
    int SeqLen,
    double LearningRate,
    int WarmupSteps,
    double MinLearningRateRatio,
    double WeightDecay,
    double GradClip,
    long Seed,
    string Tokenizer,
    double HeldOut,
    int EvalSequences)
{
    /// <summary>The default run: a few minutes of a ~30M-parameter model on 2 CPU cores (60 steps of 8 x 64 tokens;
    /// perplexity falls from about 50,000 to the hundreds). Real runs give --steps, --batch and --seq-len.</summary>
    public static LmOptions Default { get; } = new(Steps: 60, Batch: 8, SeqLen: 64, LearningRate: 2e-3, WarmupSteps: 6,
        MinLearningRateRatio: 0.1, WeightDecay: 0.1, GradClip: 1.0, Seed: 0, Tokenizer: TextTokenizer.Gpt2Name, HeldOut: 0.02,
        EvalSequences: 16);

    public long TokensPerStep => (long)Batch * SeqLen;

    /// <summary>Linear warm-up to the peak, then a cosine decay to <c>MinLearningRateRatio · peak</c> at the last step.</summary>
    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps) return LearningRate * (step + 1) / WarmupSteps;
        double floor = LearningRate * MinLearningRateRatio;
        int decaySteps = Math.Max(1, Steps - WarmupSteps - 1);
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / decaySteps);
        return floor + (LearningRate - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    /// <summary>Why these options cannot train, naming the option, or null.</summary>
    public string? Check()
    {
        if (Steps <= 0) return $"--steps must be positive (got {Steps})";
        if (Batch <= 0) return $"--batch must be positive (got {Batch})";
        if (SeqLen <= 0) return $"--seq-len must be positive (got {SeqLen})";
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) return $"--lr must be a positive number (got {LearningRate})";
        if (WarmupSteps < 0 || WarmupSteps > Steps) return $"--warmup must be between 0 and --steps ({Steps}) (got {WarmupSteps})";
        if (WeightDecay < 0) return $"--weight-decay must be >= 0 (got {WeightDecay})";
        if (!(HeldOut > 0 && HeldOut < 1)) return $"--held-out must be in (0, 1) (got {HeldOut})";
        if (EvalSequences <= 0) return $"--eval-examples must be positive (got {EvalSequences})";
        if (!TextTokenizer.Names.Contains(Tokenizer)) return $"--tokenizer must be one of: {string.Join(", ", TextTokenizer.Names)} (got '{Tokenizer}')";
        return null;
    }
}
