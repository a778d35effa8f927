using ScottPlot;

namespace Bmojo.Cli.Lm;

/// <summary>The LM pictures: validation perplexity during training, and perplexity by position (length curve).</summary>
public static class LmPlots
{
    /// <summary>Validation (and smoothed training) perplexity against tokens trained on, log scale.</summary>
    public static void SaveTraining(string path, string model, IReadOnlyList<(long Tokens, double TrainPerplexity, double ValidationPerplexity)> points)
    {
        var plot = new Plot();
        double[] x = points.Select(p => (double)p.Tokens).ToArray();
        var validation = plot.Add.Scatter(x, points.Select(p => Math.Log10(p.ValidationPerplexity)).ToArray());
        validation.LegendText = "validation";
        validation.LineWidth = 2;
        validation.MarkerSize = 6;
        var train = plot.Add.Scatter(x, points.Select(p => Math.Log10(p.TrainPerplexity)).ToArray());
        train.LegendText = "training (last steps)";
        train.LineWidth = 1;
        train.MarkerSize = 3;
        LogTicks(plot, points.SelectMany(p => new[] { p.TrainPerplexity, p.ValidationPerplexity }));
        plot.Axes.Bottom.Label.Text = "tokens trained on";
        plot.Axes.Left.Label.Text = "perplexity";
        plot.Axes.Title.Label.Text = $"{model}: perplexity during training";
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 560);
    }

    /// <summary>Perplexity per position bucket, one line per evaluation length and path (log scale).</summary>
    public static void SaveLengthCurve(string path, string title, int trainLength, IReadOnlyList<(string Label, LengthPerplexity Result)> curves)
    {
        var plot = new Plot();
        foreach ((string label, LengthPerplexity result) in curves)
        {
            var line = plot.Add.Scatter(result.Buckets.Select(b => (b.First + b.Last + 1) / 2.0).ToArray(),
                                        result.Buckets.Select(b => Math.Log10(b.Perplexity)).ToArray());
            line.LegendText = label;
            line.LineWidth = 2;
            line.MarkerSize = 5;
        }
        var trained = plot.Add.VerticalLine(trainLength);
        trained.LinePattern = LinePattern.Dashed;
        trained.LegendText = $"training length {trainLength}";
        LogTicks(plot, curves.SelectMany(c => c.Result.Buckets.Select(b => b.Perplexity)));
        plot.Axes.Bottom.Label.Text = "position in the sequence (bucket centre)";
        plot.Axes.Left.Label.Text = "perplexity";
        plot.Axes.Title.Label.Text = title;
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1000, 600);
    }

    /// <summary>Log10 values plotted, ticks labelled with the perplexities themselves.</summary>
    private static void LogTicks(Plot plot, IEnumerable<double> values)
    {
        double[] finite = values.Where(v => v > 0 && double.IsFinite(v)).ToArray();
        if (finite.Length == 0) return;
        int low = (int)Math.Floor(Math.Log10(finite.Min())), high = (int)Math.Ceiling(Math.Log10(finite.Max()));
        var ticks = new List<Tick>();
        for (int e = low; e <= high; e++)
            foreach (int m in new[] { 1, 2, 5 })
                ticks.Add(new Tick(e + Math.Log10(m), (m * Math.Pow(10, e)).ToString("G4", System.Globalization.CultureInfo.InvariantCulture)));
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
    }
}
