using System.Text;
using Bmojo.Cli.Lm;
using Bmojo.Cli.Tasks;

namespace Bmojo.Cli.Tests;

public sealed class LmDataTests
{
    [Theory]
    [InlineData("Hello, world! It was the best of times.")]
    [InlineData("  leading spaces, tabs\tand\nnew lines\r\n")]
    [InlineData("Ünïcödé: naïve café — “quotes” 日本語 🙂")]
    [InlineData("")]
    public void Both_tokenizers_decode_what_they_encode(string text)
    {
        foreach (TextTokenizer tokenizer in new[] { TextTokenizer.Gpt2, TextTokenizer.Bytes })
        {
            int[] ids = tokenizer.Encode(text);
            Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
            Assert.Equal(text, tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void Gpt2_is_the_r50k_vocabulary_with_end_of_text_50256()
    {
        TextTokenizer gpt2 = TextTokenizer.Gpt2;
        Assert.Equal(50257, gpt2.VocabSize);
        Assert.Equal(50256, gpt2.EndOfText);
        Assert.Equal(new[] { 15496, 11, 995 }, gpt2.Encode("Hello, world"));     // GPT-2's ids for "Hello", ",", " world"
        Assert.True(gpt2.Encode("The quick brown fox jumps over the lazy dog.").Length < 15, "BPE should merge common words");
        Assert.Equal(256, TextTokenizer.Bytes.EndOfText);
        Assert.Equal(Encoding.UTF8.GetBytes("é").Select(b => (int)b), TextTokenizer.Bytes.Encode("é"));
    }

    [Fact]
    public void A_spec_whose_vocab_is_below_the_tokenizers_is_refused_with_a_clear_message()
    {
        string? problem = TextTokenizer.Gpt2.CheckVocab(LmTestModels.Get("LmTransformer").Settings);
        Assert.NotNull(problem);
        Assert.Contains("vocab 257", problem);
        Assert.Contains("50257", problem);
        Assert.Null(TextTokenizer.Bytes.CheckVocab(LmTestModels.Get("LmTransformer").Settings));
        Assert.Null(TextTokenizer.Gpt2.CheckVocab(Bmojo.Models.TransformerSmall.SpecSettings));

        Cli.Result result = Cli.Run("train", "TransformerTiny", "--task", "lm", "--data", LmTestModels.SmallCorpus());
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("TransformerTiny has vocab 64, smaller than the gpt2 tokenizer's 50257 ids", result.Errors);
    }

    [Fact]
    public void The_corpus_reads_a_file_a_folder_and_jsonl_and_names_a_bad_jsonl_line()
    {
        string dir = LmTestModels.TempDir();
        File.WriteAllText(Path.Combine(dir, "b.txt"), "second");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.WriteAllText(Path.Combine(dir, "a.txt"), "first");
        File.WriteAllText(Path.Combine(dir, "sub", "c.txt"), "third");
        File.WriteAllText(Path.Combine(dir, "ignored.md"), "not text");
        Assert.Equal(new[] { "first", "second", "third" }, TextCorpus.Open(dir).Documents());
        Assert.Equal(new[] { "first" }, TextCorpus.Open(Path.Combine(dir, "a.txt")).Documents());

        string jsonl = Path.Combine(dir, "docs.jsonl");
        File.WriteAllText(jsonl, "{\"text\": \"one\", \"id\": 1}\n\n{\"text\": \"two\\nlines\"}\n");
        Assert.Equal(new[] { "one", "two\nlines" }, TextCorpus.Open(jsonl).Documents());

        File.WriteAllText(jsonl, "{\"text\": \"one\"}\n{\"body\": \"no text\"}\n");
        UserError error = Assert.Throws<UserError>(() => TextCorpus.Open(jsonl).Documents().ToList());
        Assert.Equal($"{jsonl}:2: the object has no string field 'text'", error.Message);
        File.WriteAllText(jsonl, "{\"text\": \"one\"\n");
        Assert.StartsWith($"{jsonl}:1: not valid JSON", Assert.Throws<UserError>(() => TextCorpus.Open(jsonl).Documents().ToList()).Message);
        Assert.Contains("no such file or folder", Assert.Throws<UserError>(() => TextCorpus.Open(Path.Combine(dir, "missing"))).Message);
    }

    [Fact]
    public void The_token_file_holds_each_document_then_end_of_text_and_is_reused_until_a_source_changes()
    {
        string dir = LmTestModels.TempDir();
        File.WriteAllText(Path.Combine(dir, "a.txt"), "Hello there.");
        File.WriteAllText(Path.Combine(dir, "b.txt"), "General Kenobi!");
        TextTokenizer gpt2 = TextTokenizer.Gpt2;
        long[] expected = gpt2.Encode("Hello there.").Append(50256).Concat(gpt2.Encode("General Kenobi!")).Append(50256).Select(i => (long)i).ToArray();

        using (TokenFile built = TokenFile.OpenOrBuild(TextCorpus.Open(dir), gpt2))
        {
            Assert.True(built.Built);
            Assert.Equal(Path.Combine(dir, ".bmojo.gpt2.tokens"), built.Path);
            Assert.Equal(2, built.Info.BytesPerToken);                                  // uint16: 50257 ids fit
            Assert.Equal(expected.Length * 2, new FileInfo(built.Path).Length);
            Assert.Equal(expected, built.Read(0, expected.Length));
            Assert.Equal(new long[] { 0, gpt2.Encode("Hello there.").Length + 1 }, built.Info.DocumentStarts);
        }
        using (TokenFile reused = TokenFile.OpenOrBuild(TextCorpus.Open(dir), gpt2))
        {
            Assert.False(reused.Built);
            Assert.Equal(expected, reused.Read(0, expected.Length));
        }
        using (TokenFile bytes = TokenFile.OpenOrBuild(TextCorpus.Open(dir), TextTokenizer.Bytes))
            Assert.True(bytes.Built);                                                     // another tokenizer: its own file

        File.WriteAllText(Path.Combine(dir, "b.txt"), "General Kenobi! You are a bold one.");
        using TokenFile rebuilt = TokenFile.OpenOrBuild(TextCorpus.Open(dir), gpt2);
        Assert.True(rebuilt.Built);
        Assert.Equal(gpt2.Encode("General Kenobi! You are a bold one.").Length + 1, rebuilt.Length - rebuilt.Info.DocumentStarts[1]);
    }

    [Fact]
    public void The_split_holds_out_each_documents_tail_and_packs_windows_whose_targets_are_the_next_tokens()
    {
        string dir = LmTestModels.TempDir();
        File.WriteAllText(Path.Combine(dir, "a.txt"), new string('a', 99));       // 100 tokens with end-of-text
        File.WriteAllText(Path.Combine(dir, "b.txt"), new string('b', 199));      // 200
        using TokenFile file = TokenFile.OpenOrBuild(TextCorpus.Open(dir), TextTokenizer.Bytes);
        var split = new TokenSplit(file, 0.1);

        Assert.Equal(302, split.Train.Length + split.HeldOut.Length);             // each training part ends with end-of-text too
        Assert.Equal(30, split.HeldOut.Length);                                    // 10 of a's, 20 of b's
        long[] heldOut = split.HeldOut.Read(0, 30);
        Assert.Equal(Enumerable.Repeat((long)'a', 9).Append(256).Concat(Enumerable.Repeat((long)'b', 19)).Append(256), heldOut);
        long[] train = split.Train.Read(0, (int)split.Train.Length);
        Assert.Equal(Enumerable.Repeat((long)'a', 90).Append(256).Concat(Enumerable.Repeat((long)'b', 180)).Append(256), train);  // no held-out text

        LmBatch batch = split.Sample(new DataRng(3), 16, 32);
        for (int b = 0; b < 16; b++)
        {
            long[] inputs = batch.Inputs[(b * 32)..((b + 1) * 32)], targets = batch.Targets[(b * 32)..((b + 1) * 32)];
            Assert.Equal(inputs[1..], targets[..^1]);                              // targets are the inputs shifted by one
            int start = FindWindow(train, inputs);
            Assert.True(start >= 0, "a sampled window is a window of the training stream");
        }
        Assert.Equal(new[] { 2, 1 }, split.HeldOutBatches(8, 2, 3).Select(x => x.Batch));   // 3 windows of 8 + 1, batches of 2
        Assert.Contains("fewer than one sequence", split.Check(64));
    }

    private static int FindWindow(long[] stream, long[] window)
    {
        for (int i = 0; i + window.Length <= stream.Length; i++)
            if (stream.AsSpan(i, window.Length).SequenceEqual(window)) return i;
        return -1;
    }
}
