namespace Bmojo.Bench;

/// <summary>What one model's training-step measurement gave (a failed one keeps its error and what it got before).</summary>
/// <param name="Parameters">Parameters of the built model (the spec's count when it was not built).</param>
/// <param name="Error">Why it failed ("out of device memory: ...", an exception, a timeout), or null.</param>
/// <param name="StepSeconds">Median, min and max of the timed steps, and how many; null when none was timed.</param>
/// <param name="MemoryBytes">Device memory in use after the timed steps above the process's baseline
/// (<see cref="DeviceMemory"/>); null off CUDA.</param>
/// <param name="Paths">Which kernel paths the mixers took in the last step ("scan Fused x14; ...").</param>
/// <param name="OptimizerSeconds">One AdamW step timed alone (median), or null.</param>
/// <param name="Breakdown">One layer of each kind timed alone, the head and the optimizer (empty without a breakdown).</param>
/// <param name="BreakdownNote">Why there is no breakdown, or null.</param>
/// <param name="ReferenceOptimizerSeconds">TorchSharp's own AdamW step timed alone on the same gradients (median), when
/// the step's optimizer ran fused; null otherwise.</param>
public sealed record TrainingStepResult(string Model, long Parameters, string? Error, Timing? StepSeconds, long Tokens,
                                        long? MemoryBytes, string? Paths, double BuildSeconds, double? OptimizerSeconds,
                                        IReadOnlyList<BreakdownRow> Breakdown, string? BreakdownNote = null,
                                        double? ReferenceOptimizerSeconds = null)
{
    public double? TokensPerSecond => StepSeconds is Timing t ? Tokens / t.Median : null;
}

/// <summary>What a breakdown row belongs to.</summary>
public enum BreakdownKind { Mixer, FeedForward, Head, Optimizer }

/// <summary>One part of a model's breakdown: forward + backward of one such part alone at the run's shape.</summary>
/// <param name="Part">What was timed.</param>
/// <param name="Seconds">Median time of one, or null when it failed (see <paramref name="Note"/>).</param>
/// <param name="Count">How many the model has (layers of this kind; 1 for the head).</param>
/// <param name="InSum">Whether it adds to the sum of the parts (false: a part of the row above).</param>
/// <param name="Note">How an estimate was made, or why there is no time.</param>
public sealed record BreakdownRow(string Part, BreakdownKind Kind, double? Seconds, int Count, bool InSum, string? Note = null)
{
    public double? TotalSeconds => Seconds * Count;
}
