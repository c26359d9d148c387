package io.qlora4j.cli;

import picocli.CommandLine;

import java.io.PrintWriter;

/**
 * Turns an exception escaping a command into one readable line on stderr and exit code 1. The message of a domain
 * error already says what, where and how to fix it; the stack trace is shown only with {@code QLORA4J_STACKTRACE=1}.
 */
final class CliErrors implements CommandLine.IExecutionExceptionHandler {

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        PrintWriter err = cmd.getErr();
        String message = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
        err.println("qlora4j " + cmd.getCommandName() + ": error: " + message);
        Throwable cause = ex.getCause();
        while (cause != null) {
            if (cause.getMessage() != null && !message.contains(cause.getMessage())) {
                err.println("  caused by: " + cause.getMessage());
            }
            cause = cause.getCause();
        }
        if ("1".equals(System.getenv("QLORA4J_STACKTRACE"))) {
            ex.printStackTrace(err);
        }
        err.flush();
        return 1;
    }
}
