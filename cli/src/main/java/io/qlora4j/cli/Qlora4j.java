package io.qlora4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The qlora4j command line. One picocli command class per use; each validates its options at the boundary and turns
 * domain errors into one clear line on stderr and a non-zero exit code (never a bare stack trace; {@code --stacktrace}
 * shows it when a developer wants it).
 */
@Command(name = "qlora4j", mixinStandardHelpOptions = true, versionProvider = Qlora4j.Version.class,
        description = "QLoRA fine-tuning of LLaMA-family models on the JVM.",
        subcommands = {
                CommandLine.HelpCommand.class,
                QuantizeCommand.class,
                GenerateCommand.class,
                PerplexityCommand.class,
                EvalCommand.class,
                MergeCommand.class,
                FinetuneCommand.class,
                BenchCommand.class,
                ServeDataCommand.class,
                NodeCommand.class,
                SimulateCommand.class,
        })
public final class Qlora4j implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(newCommandLine().execute(args));
    }

    /** The configured command line: shared by main and the CLI tests so both see the same behaviour. */
    public static CommandLine newCommandLine() {
        CommandLine cl = new CommandLine(new Qlora4j());
        cl.setExecutionExceptionHandler(new CliErrors());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setUsageHelpAutoWidth(true);
        return cl;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Qlora4j.class.getPackage().getImplementationVersion();
            return new String[]{"qlora4j " + (v == null ? "(development build)" : v),
                    "JVM " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")"};
        }
    }
}
