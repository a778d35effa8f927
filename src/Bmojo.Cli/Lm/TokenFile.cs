using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bmojo.Cli.Lm;

/// <summary>The JSON sidecar of a token file: what it was made from and how it is laid out.</summary>
public sealed record TokenFileInfo(
    string Format,
    string Tokenizer,
    int VocabSize,
    int EndOfText,
    int BytesPerToken,
    long Tokens,
    string Fingerprint,
    IReadOnlyList<CorpusSource> Sources,
    IReadOnlyList<long> DocumentStarts);

/// <summary>
/// A corpus tokenized once into a flat little-endian file of token ids (uint16 when the vocabulary fits, else
/// uint32), read through a memory map (nanoGPT's <c>train.bin</c>): every document's tokens followed by the
/// end-of-text id, documents in corpus order. A JSON sidecar (<c>.json</c>) records the tokenizer, the layout,
/// where each document starts, and a fingerprint of the sources (paths, sizes, modification times); a later run
/// with the same tokenizer and unchanged sources reuses the file. The file lives beside the data
/// (<c>FILE.gpt2.tokens</c>, or <c>DIR/.bmojo.gpt2.tokens</c> for a folder), or, where that is not writable, in
/// the user's cache folder.
/// </summary>
public sealed class TokenFile : IDisposable
{
    public const string FormatName = "bmojo-tokens/1";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly MemoryMappedFile? map;
    private readonly MemoryMappedViewAccessor? view;

    private TokenFile(string path, TokenFileInfo info)
    {
        Path = path;
        Info = info;
        if (info.Tokens > 0)
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, info.Tokens * info.BytesPerToken, MemoryMappedFileAccess.Read);
        }
    }

    public string Path { get; }

    public TokenFileInfo Info { get; }

    public long Length => Info.Tokens;

    /// <summary>Whether the last <see cref="OpenOrBuild"/> tokenized (false: it reused the file).</summary>
    public bool Built { get; private init; }

    /// <summary>Reuses the token file of <paramref name="corpus"/> and <paramref name="tokenizer"/> when it is up to
    /// date, else tokenizes the corpus into it (atomically: a temporary file, then a rename).</summary>
    /// <param name="progress">Told the documents done and the tokens so far while tokenizing.</param>
    public static TokenFile OpenOrBuild(TextCorpus corpus, TextTokenizer tokenizer, Action<int, long>? progress = null)
    {
        string fingerprint = Fingerprint(corpus, tokenizer);
        foreach (string candidate in Candidates(corpus, tokenizer))
            if (TryOpen(candidate, fingerprint) is TokenFile existing) return existing;
        Exception? last = null;
        foreach (string candidate in Candidates(corpus, tokenizer))
        {
            try
            {
                return Build(candidate, corpus, tokenizer, fingerprint, progress);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                last = e;
            }
        }
        throw new UserError($"cannot write a token file for {corpus.Path} beside it nor in the cache folder: {last?.Message}");
    }

    /// <summary>The token file at <paramref name="path"/> (its sidecar beside it), whatever it was made from.</summary>
    public static TokenFile Open(string path)
    {
        TokenFileInfo info = ReadInfo(path) ?? throw new UserError($"'{path}' is not a bmojo token file (no valid {path}.json)");
        return new TokenFile(path, info);
    }

    /// <summary>Tokens [start, start + count) as int64 (for torch).</summary>
    public long[] Read(long start, int count)
    {
        if (start < 0 || count < 0 || start + count > Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"tokens [{start}, {start + count}) are outside the file's {Length}");
        var result = new long[count];
        if (count == 0) return result;
        if (Info.BytesPerToken == 2)
        {
            var buffer = new ushort[count];
            view!.ReadArray(start * 2, buffer, 0, count);
            for (int i = 0; i < count; i++) result[i] = buffer[i];
        }
        else
        {
            var buffer = new uint[count];
            view!.ReadArray(start * 4, buffer, 0, count);
            for (int i = 0; i < count; i++) result[i] = buffer[i];
        }
        return result;
    }

    public void Dispose()
    {
        view?.Dispose();
        map?.Dispose();
    }

    /// <summary>Beside the data, then the cache folder.</summary>
    private static IEnumerable<string> Candidates(TextCorpus corpus, TextTokenizer tokenizer)
    {
        yield return corpus.IsFolder
            ? System.IO.Path.Combine(corpus.Path, $".bmojo.{tokenizer.Name}.tokens")
            : $"{corpus.Path}.{tokenizer.Name}.tokens";
        string cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(corpus.Path)))[..16].ToLowerInvariant();
        yield return System.IO.Path.Combine(cache, "bmojo", "tokens", $"{System.IO.Path.GetFileName(corpus.Path)}-{hash}.{tokenizer.Name}.tokens");
    }

    private static TokenFile? TryOpen(string path, string fingerprint)
    {
        if (!File.Exists(path)) return null;
        TokenFileInfo? info = ReadInfo(path);
        if (info is null || info.Fingerprint != fingerprint) return null;
        if (new FileInfo(path).Length != info.Tokens * info.BytesPerToken) return null;
        return new TokenFile(path, info);
    }

    private static TokenFileInfo? ReadInfo(string path)
    {
        try
        {
            if (!File.Exists(path + ".json")) return null;
            TokenFileInfo? info = JsonSerializer.Deserialize<TokenFileInfo>(File.ReadAllText(path + ".json"), Json);
            return info?.Format == FormatName ? info : null;
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            return null;
        }
    }

    private static TokenFile Build(string path, TextCorpus corpus, TextTokenizer tokenizer, string fingerprint, Action<int, long>? progress)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        int bytesPerToken = tokenizer.VocabSize <= ushort.MaxValue + 1 ? 2 : 4;
        var starts = new List<long>();
        long tokens = 0;
        string temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new BinaryWriter(stream))
        {
            // Documents are tokenized a block at a time in parallel, written in order.
            foreach (string[] block in corpus.Documents().Chunk(Math.Max(1, Environment.ProcessorCount * 2)))
            {
                int[][] encoded = block.AsParallel().AsOrdered().Select(text => tokenizer.Encode(text)).ToArray();
                foreach (int[] document in encoded)
                {
                    starts.Add(tokens);
                    foreach (int id in document) Write(writer, id, bytesPerToken);
                    Write(writer, tokenizer.EndOfText, bytesPerToken);
                    tokens += document.Length + 1;
                }
                progress?.Invoke(starts.Count, tokens);
            }
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        var info = new TokenFileInfo(FormatName, tokenizer.Name, tokenizer.VocabSize, tokenizer.EndOfText, bytesPerToken, tokens,
                                     fingerprint, corpus.Sources, starts);
        File.WriteAllText(path + ".json.tmp", JsonSerializer.Serialize(info, Json));
        File.Move(temporary, path, overwrite: true);
        File.Move(path + ".json.tmp", path + ".json", overwrite: true);
        return new TokenFile(path, info) { Built = true };
    }

    private static void Write(BinaryWriter writer, int id, int bytesPerToken)
    {
        if (bytesPerToken == 2) writer.Write((ushort)id);
        else writer.Write((uint)id);
    }

    private static string Fingerprint(TextCorpus corpus, TextTokenizer tokenizer)
    {
        var text = new StringBuilder().Append(FormatName).Append('\n').Append(tokenizer.Name).Append('\n');
        foreach (CorpusSource source in corpus.Sources)
            text.Append(source.Path).Append('\t').Append(source.Size.ToString(CultureInfo.InvariantCulture)).Append('\t')
                .Append(source.ModifiedUtc.Ticks.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()))).ToLowerInvariant();
    }
}
