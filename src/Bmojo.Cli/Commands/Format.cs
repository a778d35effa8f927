using System.Globalization;

namespace Bmojo.Cli.Commands;

internal static class Format
{
    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Percent(double fraction) => (100 * fraction).ToString("F1", CultureInfo.InvariantCulture) + "%";

    public static string Number(double x, string format = "F3") => x.ToString(format, CultureInfo.InvariantCulture);
}
