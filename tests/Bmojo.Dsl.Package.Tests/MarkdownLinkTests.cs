using System.Text.RegularExpressions;

namespace Bmojo.Dsl.Package.Tests;

/// <summary>Every relative link of README.md and docs/*.md names a file (or folder) that exists in the repository:
/// a reader following one never lands outside it or on nothing.</summary>
public sealed class MarkdownLinkTests
{
    public static TheoryData<string> Documents()
    {
        string repo = Repository.Root();
        var documents = new TheoryData<string> { "README.md" };
        foreach (string file in Directory.GetFiles(Path.Combine(repo, "docs"), "*.md").Order(StringComparer.Ordinal))
            documents.Add(Path.GetRelativePath(repo, file).Replace('\\', '/'));
        return documents;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_relative_link_resolves_to_a_file_in_the_repository(string document)
    {
        string repo = Repository.Root();
        string path = Path.Combine(repo, document);
        var broken = new List<string>();
        foreach (string target in RelativeLinks(File.ReadAllText(path)))
        {
            string file = Uri.UnescapeDataString(target.Split('#')[0]);
            if (file.Length == 0) continue; // an anchor in the same document
            string resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, file));
            bool inside = resolved.StartsWith(repo + Path.DirectorySeparatorChar, StringComparison.Ordinal);
            if (!inside || !(File.Exists(resolved) || Directory.Exists(resolved)))
                broken.Add($"{target} -> {resolved}{(inside ? "" : " (outside the repository)")}");
        }
        Assert.True(broken.Count == 0, $"{document} has broken links:\n{string.Join('\n', broken)}");
    }

    [Fact]
    public void The_link_finder_sees_inline_links_and_skips_code_and_absolute_addresses()
    {
        string text = "see [a](docs/a.md#x) and ![img](b.png \"title\") and [web](https://x.org) and [here](#top)\n" +
                      "```sh\n[not](a link.md)\n```\n`[code](c.md)` [d](<d e.md>)";
        Assert.Equal(new[] { "docs/a.md#x", "b.png", "#top", "d e.md" }, RelativeLinks(text));
    }

    /// <summary>Targets of inline links and images outside code, without a scheme (http:, mailto:, ...).</summary>
    internal static List<string> RelativeLinks(string markdown)
    {
        string prose = Regex.Replace(markdown, @"^(```|~~~).*?^\1[^\n]*$", "", RegexOptions.Multiline | RegexOptions.Singleline);
        prose = Regex.Replace(prose, @"`[^`\n]*`", "");
        var links = new List<string>();
        foreach (Match match in Regex.Matches(prose, @"\]\(\s*(?:<(?<target>[^>]*)>|(?<target>[^)\s]+))(?:\s+""[^""]*"")?\s*\)"))
        {
            string target = match.Groups["target"].Value;
            if (Regex.IsMatch(target, @"^[a-zA-Z][a-zA-Z0-9+.-]*:")) continue;
            links.Add(target);
        }
        return links;
    }
}

internal static class Repository
{
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Bmojo.Dsl.sln"))) return dir.FullName;
        throw new InvalidOperationException("Bmojo.Dsl.sln not found above " + AppContext.BaseDirectory);
    }
}
