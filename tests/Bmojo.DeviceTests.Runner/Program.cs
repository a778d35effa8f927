using Bmojo.DeviceTests.Runner;

// Bmojo.DeviceTests.Runner <Tests.dll> [filter] [--cuda-only]
//   runs an xUnit assembly's facts and theories without the SDK (for the GPU machine); filter: part of a class's full
//   name; --cuda-only: only the [CudaFact]s (the rest runs in CI). Exit code 1 when a test fails, 2 on bad arguments.
const string Usage = "usage: Bmojo.DeviceTests.Runner <Tests.dll> [filter] [--cuda-only]";
bool cudaOnly = args.Contains("--cuda-only");
string[] positional = args.Where(a => a != "--cuda-only").ToArray();
if (positional.Length is < 1 or > 2 || positional.Any(a => a.StartsWith("--", StringComparison.Ordinal)))
{
    Console.Error.WriteLine(Usage);
    return 2;
}
if (!File.Exists(positional[0]))
{
    Console.Error.WriteLine($"error: {positional[0]}: no such test assembly; {Usage}");
    return 2;
}
return new TestAssemblyRunner(Console.Out).Run(positional[0], positional.Length > 1 ? positional[1] : "", cudaOnly) == 0 ? 0 : 1;
