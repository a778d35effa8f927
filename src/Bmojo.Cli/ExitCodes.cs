namespace Bmojo.Cli;

/// <summary>bmojo's one exit-code convention (README, "Exit codes"): what a script can tell apart.</summary>
public static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Ok = 0;

    /// <summary>Bad input: a spec with errors, a missing or unreadable file, a checkpoint that does not fit.</summary>
    public const int InputError = 1;

    /// <summary>Bad usage: an unknown command or option, a value of the wrong type or out of range, too few arguments.</summary>
    public const int Usage = 2;

    /// <summary>A bug in bmojo (an unexpected exception): the message says so.</summary>
    public const int Internal = 70;

    /// <summary>--time-limit reached: the state is saved; --resume continues.</summary>
    public const int TimeLimit = 75;

    /// <summary>Interrupted (Ctrl-C): the current step finished and was saved where the command saves.</summary>
    public const int Interrupted = 130;
}
