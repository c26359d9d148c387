package io.qlora4j.model.tokenizer;

import java.util.Objects;

/** One message of a conversation, as chat templates see it ({@code message['role']}, {@code message['content']}). */
public record ChatMessage(Role role, String content) {
    /** The roles chat templates know; {@link #wireName()} is the string the template compares with. */
    public enum Role {
        SYSTEM("system"), USER("user"), ASSISTANT("assistant");

        private final String wireName;

        Role(String wireName) {
            this.wireName = wireName;
        }

        public String wireName() {
            return wireName;
        }

        /** The role named {@code name} ("system", "user", "assistant"). */
        public static Role of(String name) {
            for (Role r : values()) {
                if (r.wireName.equals(name)) {
                    return r;
                }
            }
            throw new IllegalArgumentException("unknown chat role '" + name + "': expected system, user or assistant");
        }
    }

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public static ChatMessage system(String content) {
        return new ChatMessage(Role.SYSTEM, content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage(Role.USER, content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage(Role.ASSISTANT, content);
    }
}
