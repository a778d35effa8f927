using Bmojo.Cli.Tasks;

namespace Bmojo.Cli.Training;

/// <summary>Everything that fixes a training run's numbers. A checkpoint stores it, so a resumed run follows the
/// same schedule and draws the same data.</summary>
/// <param name="Steps">Optimizer steps of the whole run (the cosine schedule ends here).</param>
/// <param name="Batch">Sequences per step.</param>
/// <param name="LearningRate">Peak learning rate, reached at the end of the warm-up.</param>
/// <param name="WarmupSteps">Linear warm-up steps from lr/warmup to lr.</param>
/// <param name="MinLearningRateRatio">The cosine decays to this fraction of the peak.</param>
/// <param name="WeightDecay">AdamW's decoupled weight decay on matrices (never on norms, biases, A_log, D).</param>
/// <param name="Seed">Seeds torch (initialisation) and the task's data stream.</param>
/// <param name="Grid">The MQAR settings trained on (one drawn per step) and evaluated.</param>
/// <param name="EvalExamples">Held-out examples per MQAR setting at each evaluation.</param>
/// <param name="Cell">Train and evaluate on this one setting instead of the whole grid (a sweep's cell), or null.</param>
/// <param name="TrainExamples">0: a fresh example every time (an endless stream); N: a fixed set of N examples per
/// setting, reshuffled each epoch, as Zoology trains (<see cref="MqarExamples"/>).</param>
/// <param name="RandomNonQueries">Filler positions hold random tokens (true) or token 0 (Zoology's figure 2: false).</param>
/// <param name="Mqar">The settings as "LxKV,LxKV" (<c>--mqar</c>) instead of <paramref name="Grid"/>'s, or null.</param>
public sealed record TrainingOptions(
    int Steps,
    int Batch,
    double LearningRate,
    int WarmupSteps,
    double MinLearningRateRatio,
    double WeightDecay,
    long Seed,
    MqarGridKind Grid,
    int EvalExamples,
    MqarConfig? Cell = null,
    int TrainExamples = 0,
    bool RandomNonQueries = true,
    string? Mqar = null)
{
    /// <summary>The settings trained and evaluated: the cell, else <see cref="Mqar"/>, else the grid's.</summary>
    public IReadOnlyList<MqarConfig> Settings() =>
        Cell is MqarConfig cell ? [cell] : Mqar is string list ? MqarGrid.Parse(list) ?? throw new UserError($"--mqar: cannot read '{list}'") : MqarGrid.Of(Grid);

    /// <summary>The settings ignoring <see cref="Cell"/>: what a comparison's table lists.</summary>
    public IReadOnlyList<MqarConfig> AllSettings() => (this with { Cell = null }).Settings();

    public static TrainingOptions Default(MqarGridKind grid) =>
        new(Steps: 600, Batch: 32, LearningRate: 3e-3, WarmupSteps: 60, MinLearningRateRatio: 0.1, WeightDecay: 0.1,
            Seed: 0, Grid: grid, EvalExamples: 256);

    /// <summary>Why these options cannot train, naming the option, or null.</summary>
    public string? Check()
    {
        if (Steps <= 0) return $"--steps must be positive (got {Steps})";
        if (Batch <= 0) return $"--batch must be positive (got {Batch})";
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) return $"--lr must be a positive number (got {LearningRate})";
        if (WarmupSteps < 0 || WarmupSteps > Steps) return $"--warmup must be between 0 and --steps ({Steps}) (got {WarmupSteps})";
        if (WeightDecay < 0) return $"--weight-decay must be >= 0 (got {WeightDecay})";
        if (EvalExamples <= 0) return $"--eval-examples must be positive (got {EvalExamples})";
        if (TrainExamples < 0) return $"--train-examples must be >= 0 (got {TrainExamples})";
        if (TrainExamples > 0 && TrainExamples < Batch) return $"--train-examples ({TrainExamples}) must be at least --batch ({Batch})";
        return null;
    }

    /// <summary><c>--grad-accum N</c> for a batch of <paramref name="batch"/> (mqar or lm): N itself, or a
    /// <see cref="UserError"/> when it is not between 1 and the batch.</summary>
    public static int CheckAccumulation(int value, int batch)
    {
        if (value <= 0) throw new UserError($"--grad-accum must be positive (got {value})");
        if (value > batch) throw new UserError($"--grad-accum ({value}) must be at most --batch ({batch})");
        return value;
    }

    /// <summary>What the run trains on, for its first line: <c>settings 32x2,32x4</c> (given by <c>--mqar</c>) or
    /// <c>Small grid</c>.</summary>
    public string Data => Mqar is string settings ? $"settings {settings}" : $"{Grid} grid";
}
