/*
 * Runs JSL source for a host (the page, or sockgate-jsl under node): parses it with the
 * wasm parser, evaluates it in one long-lived session (variables stay between runs, as
 * JMP's globals do), turns every way a run can end into a result the host can show, and
 * runs callbacks that arrive while no script is running.
 *
 *   const runner = new Runner({ jsl, host, hooksFor });
 *   const result = await runner.run(source);   // {status, value, error, lastAnswerOk}
 *   runner.stop();                             // from the Stop button or Ctrl+C
 *   runner.deliver(eventName, list);           // from the gateway's event stream
 *
 * status: "done" (ran to its end), "stop" (the script's Stop()), "error" (a syntax or
 * run-time error, error = {message, line, column, sourceLine}), "stopped" (the user).
 */
(function (root, factory) {
  'use strict';
  if (typeof module === 'object' && module.exports) {
    module.exports = factory(require('./jsl_values.js'), require('./jsl_eval.js'),
      require('./jsl_builtins_core.js'), require('./jsl_builtins_text.js'), require('./jsl_sockets.js'));
  } else {
    root.SockgateJslRunner = factory(root.SockgateJslValues, root.SockgateJslEval,
      root.SockgateJslCore, root.SockgateJslText, root.SockgateJslSockets);
  }
}(typeof self !== 'undefined' ? self : this, function (V, E, Core, Text, Sockets) {
  'use strict';

  /* Where an error happened, as the host shows it: line, column and that line's text. */
  function errorInfo(message, pos, source, context) {
    const info = { message: context ? `${message} (${context})` : message, line: 0, column: 0, sourceLine: '' };
    if (pos) {
      info.line = pos[0];
      info.column = pos[1];
      info.sourceLine = source.split('\n')[pos[0] - 1] || '';
    }
    return info;
  }

  class Runner {
    /*
     * hooksFor({kind: "script"|"callbacks", source}) gives the hooks of one run
     * (see Run in jsl_eval.js); parse defaults to the wasm parser (jsl.parse).
     */
    constructor({ jsl, host, hooksFor, parse }) {
      this.parse = parse || ((source) => jsl.parse(source));
      this.hooksFor = hooksFor;
      this.interp = new E.Interpreter({
        jsl, host, sockets: Sockets,
        builtins: Core.createBuiltins(Text.text, Sockets.builtins),
      });
      this.current = null;     /* the Run in progress */
      this.draining = false;
    }

    get running() {
      return this.current !== null;
    }

    stop() {
      if (this.current) this.current.stop();
    }

    /* Runs a whole source text; resolves when it and the callbacks it left queued are done. */
    async run(source) {
      if (this.current) throw new Error('a script is already running');
      const hooks = this.hooksFor({ kind: 'script', source });
      const run = new E.Run(hooks);
      this.current = run;
      let result;
      try {
        result = await this.evaluate(source, run);
      } finally {
        this.current = null;
      }
      if (result.status !== 'stopped') await this.drain();
      else this.interp.pending.length = 0;
      if (hooks.end) hooks.end(result);
      return result;
    }

    async evaluate(source, run) {
      const interp = this.interp;
      interp.lastAnswerOk = true;
      let tree;
      try {
        tree = this.parse(source);
      } catch (e) {
        return { status: 'error', error: errorInfo(`the parser failed: ${e.message}`, null, source) };
      }
      if (tree.error) {
        const err = tree.error;
        const info = errorInfo(`syntax error: ${err.message}`, [err.line, err.column], source);
        if (run.hooks.error) run.hooks.error(info);
        return { status: 'error', error: info };
      }
      const result = await this.guard(run, source, () => interp.evaluate(tree.ast, run, source));
      result.lastAnswerOk = interp.lastAnswerOk;
      return result;
    }

    /* Runs fn and turns each way it can end into a result; an error is also reported. */
    async guard(run, source, fn) {
      const report = (info) => {
        if (run.hooks.error) run.hooks.error(info);
        return { status: 'error', error: info };
      };
      /* Errors inside callbacks during Wait() are reported as they happen. */
      run.reportError = (e, context) => {
        if (run.hooks.error) run.hooks.error(errorInfo(e.message, e.pos, e.source || source, context));
      };
      try {
        const value = await fn();
        return { status: 'done', value };
      } catch (e) {
        if (e instanceof V.StopSignal) return { status: e.byUser ? 'stopped' : 'stop' };
        if (e instanceof V.BreakSignal) {
          const what = e instanceof V.ContinueSignal ? 'Continue' : 'Break';
          return report(errorInfo(`${what}() outside a loop`, e.pos, source));
        }
        if (e instanceof V.JslError) return report(errorInfo(e.message, e.pos, e.source || source));
        /* A fault of the console itself still ends only the script. */
        return report(errorInfo(`internal error: ${e && e.message ? e.message : e}`, null, source));
      }
    }

    /* An event from the gateway; a callback for this session runs now if nothing else is. */
    deliver(eventName, list) {
      const taken = Sockets.deliver(this.interp, eventName, list);
      if (taken && !this.current) this.drain();
      return taken;
    }

    /* Runs queued callbacks, one at a time, as a run of their own. */
    async drain() {
      if (this.draining || this.current || !this.interp.pending.length) return;
      this.draining = true;
      try {
        while (this.interp.pending.length && !this.current) {
          const hooks = this.hooksFor({ kind: 'callbacks', source: '' });
          const run = new E.Run(hooks);
          this.current = run;
          let result;
          try {
            result = await this.guard(run, '', () => this.interp.runQueued(run));
          } finally {
            this.current = null;
          }
          if (result.status === 'stopped') this.interp.pending.length = 0;
          if (hooks.end) hooks.end(result);
        }
      } finally {
        this.draining = false;
      }
    }
  }

  return { Runner, errorInfo };
}));
