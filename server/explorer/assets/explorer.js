// Whisper's GraphQL explorer: GraphiQL, React and graphql-ws are served by
// Whisper itself (vendor/, see vendor/VERSIONS.md), so the explorer works
// with no internet. Queries and mutations go over HTTP POST with the Headers
// tab's headers; subscriptions over a websocket (graphql-transport-ws) whose
// connection_init payload is the same headers object. A websocket the server
// refuses (no token, an expired or invalid one) is shown as an
// UNAUTHENTICATED error at once, never retried in silence.
(function () {
  'use strict';

  var httpURL = location.origin + '/graphql';
  var wsURL = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/graphql';

  var firstScreen = [
    '# Welcome to Whisper.',
    '# Run an operation: put the cursor in it and press',
    '# Ctrl-Enter, or press \u25B6 and pick it.',
    '#',
    '# 1. Sign in: run SignIn. The demo practice',
    '#    (go run ./server -demo): any demo user,',
    '#    password whisper-demo.',
    '# 2. Copy accessToken from the result into the',
    '#    Headers pane below:',
    '#      {"Authorization": "Bearer <accessToken>"}',
    '#    Queries and mutations send it as the HTTP',
    '#    Authorization header; subscriptions send it',
    '#    as the websocket connection_init payload.',
    '# 3. Run MyConversations, then the subscription',
    '#    UnreadBadge: the unread totals now, then on',
    '#    every change (\u25A0 stops it).',
    '# The token lasts 15 minutes; refreshSession',
    '# (refreshToken:) gives the next one.',
    '',
    'mutation SignIn {',
    '  login(email: "dr.chen@demo.clinic",',
    '        password: "whisper-demo") {',
    '    accessToken',
    '    refreshToken',
    '    expiresAt',
    '    user { id name }',
    '  }',
    '}',
    '',
    'query MyConversations {',
    '  me { id name }',
    '  channels(first: 10) {',
    '    edges {',
    '      node {',
    '        id kind name unreadCount',
    '        lastMessage { body createdAt }',
    '      }',
    '    }',
    '  }',
    '}',
    '',
    'subscription UnreadBadge {',
    '  unreadBadge {',
    '    total',
    '    channels { unread channel { id name } }',
    '    notifications { kind unread }',
    '  }',
    '}',
    ''
  ].join('\n');

  // isSubscription reports whether the operation GraphiQL runs is a
  // subscription (the named one, or the document's only operation).
  function isSubscription(params, documentAST) {
    if (!documentAST || !documentAST.definitions) {
      return /^\s*subscription\b/m.test(params.query || '');
    }
    var ops = documentAST.definitions.filter(function (d) { return d.kind === 'OperationDefinition'; });
    var op = ops.length === 1 ? ops[0] : ops.filter(function (d) {
      return d.name && d.name.value === params.operationName;
    })[0];
    return !!op && op.operation === 'subscription';
  }

  function authorization(headers) {
    if (!headers) return '';
    return headers.Authorization || headers.authorization || '';
  }

  // asResult turns what graphql-ws reports as a failure into a GraphQL
  // result the response pane shows: the server's errors as they are, a
  // refused connection as UNAUTHENTICATED with what to do next.
  function asResult(err, headers) {
    if (Array.isArray(err)) return { errors: err };
    if (err && typeof err.code === 'number') {
      var reason = err.reason && err.reason !== 'terminated' ? err.reason : '';
      if (err.code === 4401 || err.code === 4403 || err.code === 4429) {
        var message = authorization(headers)
          ? 'The server refused the token' + (reason ? ' (' + reason + ')' : '') +
            ': sign in again (login, or refreshSession) and put the new accessToken in the Headers pane as {"Authorization": "Bearer <accessToken>"}.'
          : 'Not signed in: run the login mutation, then put {"Authorization": "Bearer <accessToken>"} in the Headers pane; subscriptions send it as the websocket connection_init payload.';
        return { errors: [{ message: message, extensions: { code: 'UNAUTHENTICATED', websocketCloseCode: err.code } }] };
      }
      return { errors: [{ message: 'The websocket closed (' + err.code + (reason ? ' ' + reason : '') + ').', extensions: { websocketCloseCode: err.code } }] };
    }
    return { errors: [{ message: (err && err.message) || String(err) }] };
  }

  // subscribe runs one subscription on its own websocket, authenticated by
  // the Headers tab. It never reconnects: a refusal or a lost connection
  // ends the subscription with an error the user sees.
  function subscribe(params, headers) {
    return {
      subscribe: function (observer) {
        var done = false;
        var client = graphqlWs.createClient({
          url: wsURL,
          lazy: true,
          retryAttempts: 0,
          connectionParams: headers || {}
        });
        var finish = function () {
          if (done) return;
          done = true;
          client.dispose();
        };
        var unsubscribe = client.subscribe(params, {
          next: function (value) { if (!done) observer.next(value); },
          error: function (err) {
            if (done) return;
            observer.next(asResult(err, headers));
            finish();
            observer.complete();
          },
          complete: function () {
            if (done) return;
            finish();
            observer.complete();
          }
        });
        return {
          unsubscribe: function () {
            if (done) return;
            unsubscribe();
            finish();
          }
        };
      }
    };
  }

  var http = GraphiQL.createFetcher({ url: httpURL });
  function fetcher(params, opts) {
    var headers = opts && opts.headers;
    if (isSubscription(params, opts && opts.documentAST)) return subscribe(params, headers);
    return http(params, opts);
  }

  var root = document.getElementById('graphiql');
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: firstScreen,
    defaultHeaders: '',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    defaultEditorToolsVisibility: 'headers'
  }));
})();
