package io.qlora4j.cli;

import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.infer.Generator;
import io.qlora4j.model.infer.SamplingOptions;
import io.qlora4j.model.tokenizer.ChatMessage;
import io.qlora4j.model.tokenizer.ChatTemplate;
import io.qlora4j.model.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code generate}: text continuation (streamed as it is produced) or an interactive chat. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Continue a prompt, printing the prompt and the continuation token by token;",
                "with --chat, an interactive conversation using the tokenizer's chat template."})
final class GenerateCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    AdapterOption adapterOption;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "The prompt (with --chat: the first user message).")
    String prompt;

    @Option(names = "--chat", description = "Interactive chat: read user messages from stdin, apply the chat template.")
    boolean chat;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling threshold (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k most likely tokens, 0 = all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--repetition-penalty", defaultValue = "1.0", description = "HF repetition penalty, 1 = none (default: ${DEFAULT-VALUE}).")
    float repetitionPenalty;

    @Option(names = "--max-tokens", defaultValue = "256", description = "Most new tokens (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop when the output ends with TEXT (repeatable).")
    List<String> stop = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        if (!chat && prompt == null) throw new IllegalArgumentException("--prompt is required (or use --chat)");
        ModelOptions.Loaded m = modelOptions.load();
        LlamaModel model = m.loaded().model();
        AdapterContext adapters = adapterOption.load(model);
        SamplingOptions options = new SamplingOptions(temperature, topK, topP, repetitionPenalty, seed, maxTokens, stop);
        Generator generator = new Generator(model, m.tokenizer(), adapters);
        if (chat) return chat(generator, m.tokenizer(), options);
        int[] ids = m.tokenizer().encode(prompt, true);
        System.out.print(prompt);
        System.out.flush();
        Generator.Result r = generator.generate(ids, options, piece -> {
            System.out.print(piece);
            System.out.flush();
        });
        System.out.println();
        report(r);
        return 0;
    }

    private Integer chat(Generator generator, Tokenizer tokenizer, SamplingOptions options) throws IOException {
        ChatTemplate template = tokenizer.chatTemplate().orElseThrow(() -> new IllegalArgumentException(
                "--chat needs a tokenizer with a chat template (tokenizer_config.json's chat_template); this one has none"));
        List<ChatMessage> messages = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String user = prompt;
        System.err.println("chat: type a message and press enter; an empty line or end of input quits");
        while (true) {
            if (user == null) {
                System.out.print("> ");
                System.out.flush();
                user = in.readLine();
                if (user == null || user.isBlank()) return 0;
            }
            messages.add(ChatMessage.user(user));
            int[] ids = tokenizer.encode(template.render(messages, true).text(), false);
            StringBuilder reply = new StringBuilder();
            Generator.Result r = generator.generate(ids, options, piece -> {
                reply.append(piece);
                System.out.print(piece);
                System.out.flush();
            });
            System.out.println();
            report(r);
            messages.add(ChatMessage.assistant(reply.toString().strip()));
            user = null;
        }
    }

    private static void report(Generator.Result r) {
        System.err.printf("[%d prompt + %d generated tokens, %.1f tokens/s, stopped: %s]%n", r.promptLength(),
                r.generated(), r.generated() / Math.max(r.seconds(), 1e-9), r.reason().name().toLowerCase(java.util.Locale.ROOT));
    }
}
