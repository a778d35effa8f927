namespace Bmojo.Cli.Training;

/// <summary>Linear warm-up to the peak, then a cosine decay to <c>MinLearningRateRatio · peak</c> at the last step.</summary>
public static class LearningRateSchedule
{
    /// <summary>The learning rate of optimizer step <paramref name="step"/> (0-based).</summary>
    public static double At(int step, TrainingOptions options)
    {
        double peak = options.LearningRate;
        if (step < options.WarmupSteps) return peak * (step + 1) / options.WarmupSteps;
        double floor = peak * options.MinLearningRateRatio;
        int decaySteps = Math.Max(1, options.Steps - options.WarmupSteps - 1);
        double progress = Math.Min(1.0, (double)(step - options.WarmupSteps) / decaySteps);
        return floor + (peak - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
