namespace Bmojo.Cli;

/// <summary>How wide the tables and help are drawn. A terminal: its width, unless <c>COLUMNS</c> says otherwise.
/// Output that is not a terminal (a pipe, a file): <c>COLUMNS</c> when set, else <see cref="Unbounded"/>, so a table
/// row is one line that grep and cut can read (Spectre would otherwise assume 80 columns and break cells).</summary>
public static class ConsoleWidth
{
    /// <summary>The width for output that is not a terminal, when COLUMNS is not set: wide enough that no row wraps.</summary>
    public const int Unbounded = 1000;

    /// <summary>The width to draw at, or null to leave Spectre's (a terminal's own width).</summary>
    public static int? Resolve(string? columns, bool outputRedirected)
    {
        if (int.TryParse(columns, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int width) &&
            width is >= 20 and <= 100_000)
            return width;
        return outputRedirected ? Unbounded : null;
    }
}
