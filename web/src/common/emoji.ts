/** A small built-in set of unicode emoji (kind "emoji"). */
export const EMOJI: readonly string[] = [
  '😀', '😁', '😂', '🤣', '😊', '😍', '😘', '😎',
  '🤔', '😅', '😭', '😡', '😴', '🤗', '🙄', '😳',
  '👍', '👎', '👌', '🙏', '👏', '💪', '🤝', '✌️',
  '❤️', '💔', '🎉', '🎁', '🌹', '☕', '🔥', '✅',
]
