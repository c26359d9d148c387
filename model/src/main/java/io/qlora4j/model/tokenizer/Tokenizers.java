package io.qlora4j.model.tokenizer;

import io.qlora4j.model.tokenizer.hf.HfTokenizerLoader;
import io.qlora4j.model.tokenizer.llama2c.Llama2cTokenizer;
import io.qlora4j.model.tokenizer.llama2c.Llama2cVocab;
import io.qlora4j.model.tokenizer.llama2c.SentencePieceModelReader;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Loads a {@link Tokenizer} from whatever a model folder ships. */
public final class Tokenizers {
    private Tokenizers() {
    }

    /**
     * Loads the tokenizer at {@code path}:
     * <ul>
     *   <li>a {@code *.json} file: Hugging Face {@code tokenizer.json}, with {@code tokenizer_config.json} and
     *       {@code chat_template.jinja} from the same folder when present;</li>
     *   <li>a {@code *.bin} file: llama2.c {@code tokenizer.bin};</li>
     *   <li>a {@code *.model} file: SentencePiece model, encoded with llama2.c's algorithm;</li>
     *   <li>a folder: its {@code tokenizer.json}, else {@code tokenizer.bin}, else a single {@code tok*.bin}, else
     *       {@code tokenizer.model}.</li>
     * </ul>
     *
     * @throws TokenizerException naming the file and what is wrong with it
     */
    public static Tokenizer load(Path path) {
        if (!Files.exists(path)) {
            throw new TokenizerException("tokenizer path " + path.toAbsolutePath() + " does not exist");
        }
        if (Files.isDirectory(path)) {
            return load(findInFolder(path));
        }
        String name = path.getFileName().toString();
        if (name.endsWith(".json")) {
            return HfTokenizerLoader.load(path);
        }
        if (name.endsWith(".bin")) {
            return new Llama2cTokenizer(Llama2cVocab.readBin(path));
        }
        if (name.endsWith(".model")) {
            return new Llama2cTokenizer(SentencePieceModelReader.read(path));
        }
        throw new TokenizerException("cannot tell the tokenizer format of " + path + " from its name: expected a "
                + "Hugging Face tokenizer.json (*.json), a llama2.c tokenizer.bin (*.bin) or a SentencePiece "
                + "tokenizer.model (*.model)");
    }

    private static Path findInFolder(Path folder) {
        for (String name : List.of("tokenizer.json", "tokenizer.bin")) {
            if (Files.isRegularFile(folder.resolve(name))) {
                return folder.resolve(name);
            }
        }
        List<Path> tokBins = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder, "tok*.bin")) {
            files.forEach(tokBins::add);
        } catch (IOException e) {
            throw new TokenizerException("cannot list tokenizer folder " + folder + ": " + e.getMessage(), e);
        }
        if (tokBins.size() == 1) {
            return tokBins.getFirst();
        }
        if (tokBins.size() > 1) {
            throw new TokenizerException("tokenizer folder " + folder + " has several tok*.bin files " + tokBins.stream()
                    .map(p -> p.getFileName().toString()).sorted().toList() + ": pass the file to use");
        }
        if (Files.isRegularFile(folder.resolve("tokenizer.model"))) {
            return folder.resolve("tokenizer.model");
        }
        throw new TokenizerException("no tokenizer in folder " + folder
                + ": expected tokenizer.json, tokenizer.bin, tok*.bin or tokenizer.model");
    }
}
