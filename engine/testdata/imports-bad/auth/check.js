export const ok =
