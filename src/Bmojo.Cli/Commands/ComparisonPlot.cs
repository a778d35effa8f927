using Bmojo.Cli.Tasks;
using ScottPlot;

namespace Bmojo.Cli.Commands;

/// <summary>Accuracy against the number of key-value pairs, one line per architecture (and sequence length).</summary>
internal static class ComparisonPlot
{
    public static void Save(string path, IReadOnlyList<ComparisonEntry> comparison, IReadOnlyList<MqarConfig> grid)
    {
        var plot = new Plot();
        int[] seqLens = grid.Select(c => c.SeqLen).Distinct().Order().ToArray();
        foreach (ComparisonEntry entry in comparison)
            foreach (int seqLen in seqLens)
            {
                var points = entry.Accuracy.Where(r => r.Config.SeqLen == seqLen).OrderBy(r => r.Config.KvPairs).ToList();
                var line = plot.Add.Scatter(points.Select(r => (double)r.Config.KvPairs).ToArray(), points.Select(r => 100 * r.Accuracy).ToArray());
                line.LegendText = seqLens.Length == 1 ? entry.Model : $"{entry.Model} (L {seqLen})";
                line.LineWidth = 2;
                line.MarkerSize = 7;
            }
        plot.Axes.Bottom.Label.Text = "key-value pairs";
        plot.Axes.Left.Label.Text = "accuracy (%)";
        plot.Axes.Title.Label.Text = seqLens.Length == 1 ? $"MQAR, sequence length {seqLens[0]}" : "MQAR";
        plot.Axes.SetLimitsY(0, 105);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 560);
    }
}
