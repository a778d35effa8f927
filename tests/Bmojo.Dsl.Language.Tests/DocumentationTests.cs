using System.Text.RegularExpressions;
using Bmojo.Dsl.Language.Diagnostics;
using Bmojo.Dsl.Language.Kinds;

namespace Bmojo.Dsl.Language.Tests;

/// <summary>docs/spec-language.md states the catalogue and the key tables as the code has them.</summary>
public sealed class DocumentationTests
{
    [Fact]
    public void The_diagnostic_table_matches_the_catalogue()
    {
        string doc = File.ReadAllText(Path.Combine(TestSpecs.RepositoryRoot, "docs", "spec-language.md"));
        var rows = Regex.Matches(doc, @"^\| (BMJ\d{4}) \| (\w+) \| ([^|]+) \| `(.*)` \|$", RegexOptions.Multiline)
            .Select(m => (Id: m.Groups[1].Value, Severity: m.Groups[2].Value, Title: m.Groups[3].Value.Trim(), Message: m.Groups[4].Value.Replace("\\|", "|")))
            .ToArray();
        var expected = DiagnosticCatalogue.All
            .Select(d => (d.Id, d.Severity.ToString().ToLowerInvariant(), d.Title, d.MessageFormat.Replace("{{", "{").Replace("}}", "}")))
            .ToArray();
        Assert.Equal(expected, rows);
    }

    [Fact]
    public void Each_kinds_key_table_is_the_docs_table()
    {
        string[] doc = File.ReadAllLines(Path.Combine(TestSpecs.RepositoryRoot, "docs", "spec-language.md"));
        foreach (ComponentKind kind in ComponentKindRegistry.All)
        {
            int heading = Array.FindIndex(doc, line => line.StartsWith($"### `{kind.Name}`", StringComparison.Ordinal));
            Assert.True(heading >= 0, $"docs/spec-language.md has no section '### `{kind.Name}`'");
            string[] rows = doc.Skip(heading + 1).TakeWhile(line => !line.StartsWith('#'))
                .Where(line => Regex.IsMatch(line, @"^\| `\w+` \|")).ToArray();
            bool withPaper = kind.Keys.Any(key => key.Paper.Length > 0);
            string[] expected = kind.Keys.Select(key => key.Row(withPaper)).ToArray();
            Assert.True(expected.SequenceEqual(rows),
                $"the key table of '### `{kind.Name}`' in docs/spec-language.md differs from {kind.GetType().Name}.Keys " +
                $"(generators/Bmojo.Dsl.Language/Kinds/); its rows as the code has them:\n{string.Join("\n", expected)}");
        }
    }

    [Fact]
    public void Each_kinds_table_lists_keys_it_accepts()
    {
        foreach (ComponentKind kind in ComponentKindRegistry.All)
            Assert.All(kind.Keys, key => Assert.Contains(key.Name, kind.KeyNames));
    }

    [Fact]
    public void The_examples_print_as_the_doc_shows()
    {
        string doc = File.ReadAllText(Path.Combine(TestSpecs.RepositoryRoot, "docs", "spec-language.md"));
        const string head = "model A {\n  vocab = 64\n  d_model = 64\n  layers = 16\n";
        string[] specs =
        {
            head + "  mixer = mamba { d_state = 0 }\n}",
            head + "  mixer = bmojo { windw = 8, heads = 4 }\n}",
            head + "  mixer = attention { heads = yes }\n}",
            head + "  mixer = mamba\n  # layer 4 is attention\n  mixer every 8 offset 4 = attention { heads = 4 }\n  mixer at [4] = bmojo { heads = 4 }\n}",
        };
        foreach (string spec in specs)
        {
            var (_, diagnostics) = TestSpecs.Compile(("specs/x.arch", spec));
            Assert.Contains(Assert.Single(diagnostics).ToString(), doc);
        }
    }
}
