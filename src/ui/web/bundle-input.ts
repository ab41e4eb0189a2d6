/** The "Open bundle" control: a file input whose file's text goes to the caller. */
export function setupBundleInput(input: HTMLInputElement, onBundle: (text: string, fileName: string) => void): void {
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (!file) return;
    void file.text().then((text) => {
      // Cleared, so choosing the same file again opens it again.
      input.value = '';
      onBundle(text, file.name);
    });
  });
}
