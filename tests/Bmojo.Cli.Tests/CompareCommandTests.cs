using System.Text.Json;

namespace Bmojo.Cli.Tests;

public sealed class CompareCommandTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("bmojo-compare-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void Compare_trains_each_model_on_the_same_data_and_writes_a_table_json_and_plot()
    {
        // The compiled-in TransformerTiny and the same spec compiled at run time: same seed, same data, same
        // budget, so the same numbers.
        Cli.Result result = Cli.Run("compare", "TransformerTiny", Cli.Spec("transformer-tiny.arch"), "--task", "mqar",
                                    "--steps", "3", "--batch", "2", "--eval-examples", "4", "--threads", "2", "--out", directory);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("MQAR accuracy at the answer positions", result.Output);
        Assert.Contains("L 32 kv 4", result.Output);   // no --grid: the main job's settings, 32x2,32x4

        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "results.json")));
        JsonElement models = json.RootElement.GetProperty("models");
        Assert.Equal(2, models.GetArrayLength());
        Assert.Equal("mqar", json.RootElement.GetProperty("task").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("options").GetProperty("steps").GetInt32());
        double[] Accuracies(JsonElement model) =>
            model.GetProperty("accuracy").EnumerateArray().Select(r => r.GetProperty("accuracy").GetDouble()).ToArray();
        Assert.Equal(2, Accuracies(models[0]).Length);
        Assert.Equal(Accuracies(models[0]), Accuracies(models[1]));
        Assert.Equal(8_192, models[0].GetProperty("memory_floats_per_sequence").GetInt64());   // 256 floats a token at L 32
        Assert.Equal(103_040, models[1].GetProperty("parameters").GetInt64());

        byte[] png = File.ReadAllBytes(Path.Combine(directory, "mqar-accuracy.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    [Fact]
    public void Plot_draws_the_comparison_again_from_its_results_json()
    {
        Cli.Result compare = Cli.Run("compare", "TransformerTiny", "MambaTiny", "--task", "mqar", "--steps", "2", "--batch", "2",
                                     "--eval-examples", "4", "--threads", "2", "--out", directory);
        Assert.Equal(0, compare.ExitCode);
        string accuracy = Path.Combine(directory, "mqar-accuracy.png"), memory = Path.Combine(directory, "mqar-accuracy-vs-memory.png");
        byte[] drawn = File.ReadAllBytes(accuracy), drawnMemory = File.ReadAllBytes(memory);
        File.Delete(accuracy);
        File.Delete(memory);

        Cli.Result plot = Cli.Run("plot", directory);

        Assert.Equal(0, plot.ExitCode);
        Assert.Contains("2 models, 2 settings", plot.Output);   // no --grid: the main job, 32x2,32x4
        Assert.Equal(drawn, File.ReadAllBytes(accuracy));
        Assert.Equal(drawnMemory, File.ReadAllBytes(memory));
    }

    [Fact]
    public void Plot_of_a_folder_without_results_says_so_in_one_line()
    {
        Cli.Result result = Cli.Run("plot", directory);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"{directory}: nothing to plot (no results.json of compare, no training.csv or eval.csv of train/eval --task lm)",
                     result.Errors.Trim());
    }

    [Fact]
    public void Plot_redraws_lm_runs_and_draws_them_side_by_side()
    {
        string[] models = ["TransformerSmall", "MambaSmall"];
        foreach (string model in models)
        {
            string run = Directory.CreateDirectory(Path.Combine(directory, model)).FullName;
            File.WriteAllText(Path.Combine(run, "training.csv"),
                "step,tokens,learning_rate,train_loss,train_perplexity,val_loss,val_perplexity,tokens_per_second,elapsed_seconds\n" +
                "0,0,5E-05,10.9,54232.1,10.9,54232.1,0.0,0.4\n100,819200,0.0006,5.7,306.1,5.6,283.0,350488.0,3.9\n");
            File.WriteAllText(Path.Combine(run, "eval.csv"),
                "model,length,multiple,path,sequences,tokens,perplexity,bucket_first,bucket_last,bucket_tokens,bucket_perplexity\n" +
                $"{model},64,1,full,2,128,180.7,0,31,64,180.3\n{model},64,1,full,2,128,180.7,32,63,64,181.2\n" +
                $"{model},128,2,full,1,128,190.5,0,31,32,180.0\n{model},128,2,full,1,128,190.5,32,63,32,181.0\n" +
                $"{model},128,2,full,1,128,190.5,64,95,32,199.0\n{model},128,2,full,1,128,190.5,96,127,32,202.0\n");
        }
        string together = Path.Combine(directory, "together");

        Cli.Result result = Cli.Run("plot", Path.Combine(directory, models[0]), Path.Combine(directory, models[1]), "--out", together);

        Assert.Equal(0, result.ExitCode);
        foreach (string png in models.SelectMany(m => new[] { Path.Combine(directory, m, "perplexity.png"), Path.Combine(directory, m, "length-curve.png") })
                                     .Append(Path.Combine(together, "lm-validation.png")).Append(Path.Combine(together, "lm-length.png")))
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png)[..4]);
        Assert.Contains("lm-length.png", result.Output);

        File.WriteAllText(Path.Combine(directory, models[0], "training.csv"), "step,tokens\n1,lots,of,words,here,and,more\n");
        Cli.Result broken = Cli.Run("plot", Path.Combine(directory, models[0]));
        Assert.Equal(1, broken.ExitCode);
        Assert.StartsWith($"{Path.Combine(directory, models[0], "training.csv")}: not a file bmojo wrote", broken.Errors.Trim());
    }
}
