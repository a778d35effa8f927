using System.Globalization;
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

    /// <summary>Validation perplexity against tokens trained on, a line per run (log scale): several models'
    /// training.csv side by side.</summary>
    public static void SaveValidationComparison(string path, string title,
                                                IReadOnlyList<(string Label, IReadOnlyList<(long Tokens, double TrainPerplexity, double ValidationPerplexity)> Points)> runs)
    {
        var plot = new Plot();
        foreach ((string label, var points) in runs)
        {
            var line = plot.Add.Scatter(points.Select(p => (double)p.Tokens).ToArray(), points.Select(p => Math.Log10(p.ValidationPerplexity)).ToArray());
            line.LegendText = label;
            line.LineWidth = 2;
            line.MarkerSize = 6;
        }
        LogTicks(plot, runs.SelectMany(r => r.Points.Select(p => p.ValidationPerplexity)));
        plot.Axes.Bottom.Label.Text = "tokens trained on";
        plot.Axes.Left.Label.Text = "validation perplexity";
        plot.Axes.Title.Label.Text = title;
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 560);
    }

    /// <summary>The rows of a training.csv that <c>train --task lm</c> wrote: tokens, training and validation perplexity.</summary>
    public static IReadOnlyList<(long Tokens, double TrainPerplexity, double ValidationPerplexity)> ReadTraining(string csv) =>
        File.ReadLines(csv).Skip(1).Select(line => line.Split(','))
            .Where(f => f.Length >= 7)
            .Select(f => (Tokens: long.Parse(f[1], CultureInfo.InvariantCulture), Train: double.Parse(f[4], CultureInfo.InvariantCulture),
                          Validation: double.Parse(f[6], CultureInfo.InvariantCulture)))
            .ToList();

    /// <summary>The results of an eval.csv that <c>eval --task lm</c> wrote (one row per position bucket): the model
    /// and, per length and path, its perplexity and buckets.</summary>
    public static (string Model, IReadOnlyList<LengthPerplexity> Results) ReadEvaluation(string csv)
    {
        string model = "";
        var results = new List<LengthPerplexity>();
        foreach (var group in File.ReadLines(csv).Skip(1).Select(line => line.Split(',')).Where(f => f.Length >= 11)
                     .GroupBy(f => (Length: int.Parse(f[1], CultureInfo.InvariantCulture), Path: f[3])))
        {
            string[] first = group.First();
            model = first[0];
            results.Add(new LengthPerplexity(group.Key.Length, int.Parse(first[2], CultureInfo.InvariantCulture), group.Key.Path,
                int.Parse(first[4], CultureInfo.InvariantCulture), long.Parse(first[5], CultureInfo.InvariantCulture),
                double.Parse(first[6], CultureInfo.InvariantCulture),
                group.Select(f => (long.Parse(f[7], CultureInfo.InvariantCulture), long.Parse(f[8], CultureInfo.InvariantCulture),
                                   long.Parse(f[9], CultureInfo.InvariantCulture), double.Parse(f[10], CultureInfo.InvariantCulture))).ToList()));
        }
        return (model, results);
    }

    /// <summary>One model's length curve (eval's length-curve.png): a line per evaluation length and path.</summary>
    public static void SaveEvaluation(string path, string model, int trainLength, IReadOnlyList<LengthPerplexity> results) =>
        SaveLengthCurve(path, $"{model}: perplexity by position (trained at L {trainLength})", trainLength,
                        results.Select(r => ($"{r.Multiple}x L, {r.Path}", r)).ToList());

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
        double min = Math.Log10(finite.Min()), max = Math.Log10(finite.Max());
        int low = (int)Math.Floor(min), high = (int)Math.Ceiling(max);
        // Within a decade or two, finer steps so that the axis has labels to read off.
        int[] steps = high - low <= 1 ? [10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90] : high - low <= 2 ? [10, 20, 30, 50, 70] : [10, 20, 50];
        var ticks = new List<Tick>();
        for (int e = low; e <= high; e++)
            foreach (int m in steps)
            {
                double value = m / 10.0 * Math.Pow(10, e);
                ticks.Add(new Tick(e + Math.Log10(m / 10.0), value.ToString(value >= 10_000 ? "N0" : "G4", System.Globalization.CultureInfo.InvariantCulture)));
            }
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        double margin = Math.Max(0.02, (max - min) * 0.05);
        plot.Axes.SetLimitsY(min - margin, max + margin);
    }
}
