using System.Diagnostics;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>
/// Wall-clock timing of device work: the device is synchronised before the clock starts and before it stops, so a
/// time covers the work queued in between and nothing earlier. Warm-up runs first; the median of the timed runs is
/// reported (with the spread, min and max, to judge noise).
/// </summary>
public sealed class DeviceTimer
{
    private readonly Device device;

    public DeviceTimer(Device device) => this.device = device;

    public Timing Measure(int warmup, int runs, Action<int> work)
    {
        for (int i = 0; i < warmup; i++) work(i);
        var seconds = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            Synchronize();
            long start = Stopwatch.GetTimestamp();
            work(warmup + i);
            Synchronize();
            seconds[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(seconds);
        return new Timing(seconds[runs / 2], seconds[0], seconds[^1], runs);
    }

    private void Synchronize()
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
    }
}

/// <summary>Median, min and max seconds over <paramref name="Runs"/> timed runs.</summary>
public readonly record struct Timing(double Median, double Min, double Max, int Runs)
{
    public string Milliseconds => $"{Median * 1e3:F3} ms (min {Min * 1e3:F3}, max {Max * 1e3:F3}, n={Runs})";
}
