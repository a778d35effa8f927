using System.Runtime.CompilerServices;
using System.Text;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>
/// Snapshot testing with Verify's conventions, so moving to Verify.Xunit is a change of this one file.
/// <list type="bullet">
/// <item>The approved text lives in <c>Snapshots/&lt;name&gt;.verified.cs</c> beside the calling test file (found via
/// <see cref="CallerFilePathAttribute"/>) and is committed.</item>
/// <item>On a mismatch the new text is written to <c>Snapshots/&lt;name&gt;.received.cs</c> (git-ignored) and the test
/// fails with a line diff.</item>
/// <item>To accept the received text, run the tests with <c>BMOJO_ACCEPT=1</c>: verified files are overwritten
/// (and created) and the tests pass. Ignored under <c>CI=true</c>.</item>
/// <item>Under <c>CI=true</c> a missing verified file fails the test and is never created. Outside CI it is created
/// from the received text and the test fails once, asking for a review.</item>
/// </list>
/// </summary>
public static class Snapshot
{
    private const int MaxDiffLines = 80;

    public static void Verify(string received, string name, [CallerFilePath] string testFile = "")
    {
        string directory = Path.Combine(Path.GetDirectoryName(testFile)!, "Snapshots");
        string verifiedPath = Path.Combine(directory, name + ".verified.cs");
        string receivedPath = Path.Combine(directory, name + ".received.cs");
        received = Normalize(received);
        bool ci = IsSet("CI");
        bool accept = IsSet("BMOJO_ACCEPT") && !ci;

        if (!File.Exists(verifiedPath))
        {
            if (ci) Assert.Fail($"Snapshot '{name}' has no verified file ({verifiedPath}); under CI it is never created. " +
                                "Run the tests locally, review and commit the new file.");
            Directory.CreateDirectory(directory);
            File.WriteAllText(verifiedPath, received);
            if (accept) return;
            Assert.Fail($"Snapshot '{name}' was new: created {verifiedPath}. Review it, commit it and run the tests again.");
        }

        string verified = Normalize(File.ReadAllText(verifiedPath));
        if (verified == received)
        {
            File.Delete(receivedPath);
            return;
        }
        if (accept)
        {
            File.WriteAllText(verifiedPath, received);
            File.Delete(receivedPath);
            return;
        }
        File.WriteAllText(receivedPath, received);
        Assert.Fail($"Snapshot '{name}' differs from {verifiedPath} (received text in {receivedPath}; " +
                    $"run with BMOJO_ACCEPT=1 to accept it):\n{Diff(verified, received)}");
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");

    private static bool IsSet(string variable) =>
        Environment.GetEnvironmentVariable(variable) is string value &&
        (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static string Diff(string verified, string received)
    {
        DiffPaneModel diff = InlineDiffBuilder.Diff(verified, received);
        var text = new StringBuilder();
        int shown = 0;
        for (int i = 0; i < diff.Lines.Count && shown < MaxDiffLines; i++)
        {
            DiffPiece line = diff.Lines[i];
            if (line.Type is ChangeType.Inserted or ChangeType.Deleted)
            {
                text.Append(line.Type == ChangeType.Inserted ? "+ " : "- ").AppendLine(line.Text);
                shown++;
            }
        }
        if (shown == MaxDiffLines) text.AppendLine("... (diff cut)");
        return text.ToString();
    }
}
