/*
 * The console's editor (#input): Enter runs a one-line input at once, as a prompt does;
 * a longer script (pasted or written with Shift+Enter) keeps its lines and runs with
 * Ctrl+Enter or the Run button. The arrow keys walk the history, kept in localStorage;
 * the examples menu loads a script of its own into the editor.
 */
(function (root) {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const HISTORY_KEY = 'sockgate.history';
  const HISTORY_MAX = 200;
  const HISTORY_ENTRY_MAX = 20000;

  function loadHistory() {
    try {
      const h = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]');
      return Array.isArray(h) ? h.filter((x) => typeof x === 'string') : [];
    } catch (e) {
      return [];
    }
  }

  /*
   * run(text, {single}) runs a script; stop() stops the one running; running() says
   * whether one is. examples: [{title, source}].
   */
  function setupEditor({ run, stop, running, examples }) {
    const input = $('input');
    const history = loadHistory();
    let historyPos = history.length;
    let draft = '';

    function remember(source) {
      if (source.length > HISTORY_ENTRY_MAX) return;
      if (history[history.length - 1] !== source) history.push(source);
      while (history.length > HISTORY_MAX) history.shift();
      historyPos = history.length;
      draft = '';
      try {
        localStorage.setItem(HISTORY_KEY, JSON.stringify(history));
      } catch (e) {
        /* Storage may be full or off; history then lasts for this page only. */
      }
    }

    function fit() {
      input.rows = Math.min(12, Math.max(3, input.value.split('\n').length));
    }

    function setInput(text) {
      input.value = text;
      fit();
      input.setSelectionRange(text.length, text.length);
    }

    /* Runs what the editor holds; a single line leaves the editor, as at a prompt. */
    function runInput(single) {
      const text = input.value;
      if (!text.trim() || running()) return;
      remember(text);
      if (single) setInput('');
      run(text, { single });
    }

    input.addEventListener('keydown', (event) => {
      const before = input.value.slice(0, input.selectionStart);
      const after = input.value.slice(input.selectionEnd);
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        runInput(false);
      } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing &&
          !input.value.includes('\n')) {
        event.preventDefault();
        runInput(true);
      } else if (event.key === 'Escape' && running()) {
        event.preventDefault();
        stop();
      } else if (event.key === 'ArrowUp' && !before.includes('\n') && historyPos > 0) {
        event.preventDefault();
        if (historyPos === history.length) draft = input.value;
        historyPos--;
        setInput(history[historyPos]);
      } else if (event.key === 'ArrowDown' && !after.includes('\n') && historyPos < history.length) {
        event.preventDefault();
        historyPos++;
        setInput(historyPos === history.length ? draft : history[historyPos]);
      }
    });
    input.addEventListener('input', fit);

    $('run').addEventListener('click', () => {
      if (running()) stop();
      else runInput(false);
    });

    const menu = $('examples');
    for (const [i, ex] of examples.entries()) {
      menu.append(new Option(ex.title, String(i)));
    }
    menu.addEventListener('change', () => {
      const ex = examples[Number(menu.value)];
      menu.value = '';
      if (!ex) return;
      setInput(ex.source);
      input.focus();
    });
    fit();
    return { setInput, focus: () => input.focus() };
  }

  root.SockgateConsoleEditor = { setupEditor };
}(typeof self !== 'undefined' ? self : this));
