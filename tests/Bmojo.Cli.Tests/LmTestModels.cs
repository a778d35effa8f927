using System.Collections.Concurrent;
using Bmojo.Cli.Lm;
using Bmojo.Cli.Models;

namespace Bmojo.Cli.Tests;

/// <summary>The models of Fixtures/lm-test.arch (compiled at run time once each) and small corpora on disk.</summary>
internal static class LmTestModels
{
    private static readonly ConcurrentDictionary<string, ModelDefinition> Loaded = new();

    public static string Fixture(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);

    public static ModelDefinition Get(string name) =>
        Loaded.GetOrAdd(name, n => SpecLoader.LoadOne($"{Fixture("lm-test.arch")}#{n}", TextWriter.Null));

    public static LmModel Build(string name, long seed = 1)
    {
        TorchSharp.torch.random.manual_seed(seed);
        ModelDefinition definition = Get(name);
        return new LmModel(definition, definition.Create());
    }

    /// <summary>A fresh temporary folder.</summary>
    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "bmojo-lm-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A folder of three English "books" (a few KB each) for the byte tokenizer.</summary>
    public static string SmallCorpus()
    {
        string dir = TempDir();
        string[] sentences =
        [
            "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ",
            "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little. ",
            "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do. ",
        ];
        for (int i = 0; i < sentences.Length; i++)
            File.WriteAllText(Path.Combine(dir, $"book{i}.txt"), string.Concat(Enumerable.Range(0, 30).Select(k => $"{k}: {sentences[i]}")));
        return dir;
    }
}
