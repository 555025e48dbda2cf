# AuthGate のページ、日本語。メッセージ ID は en/main.ftl とまったく同じです。
# 技術的な要素（BCDF-GHJK のようなコード、アドレス、scope 名）はそのまま残します。

## すべてのページ

page-skip = 本文へスキップ
nav-account = アカウント
nav-your-account = あなたのアカウント：
nav-sign-out = ログアウト
lang-switch = 言語

## ログイン

login-title = ログイン
login-lead = ログインすると、デバイスをアカウントに接続したり、アクセス権を持つデバイスを管理したりできます。
login-username = ユーザー名
login-password = パスワード
login-wrong = ユーザー名またはパスワードが違います。
login-too-many = ログインの失敗が多すぎます。{ $secs } 秒後にもう一度お試しください。
attempt-in-flight = 前回の試行をまだ確認しています。1 秒後にもう一度お試しください。
attempt-busy = サーバーはパスワードの確認で混み合っています。1 秒後にもう一度お試しください。

## コードの入力

device-title = デバイスを接続
device-lead = デバイスに表示されているコードを入力してください。
device-wait = しばらくお待ちください。
device-check = コードを確認してください。
device-code = コード
device-code-help = BCDF-GHJK のような 8 文字の英字です。大文字・小文字、ハイフン、スペースは区別しません。
device-continue = 次へ
device-aside = デバイスの QR コードを読み取ったか、デバイスのリンクを開いた場合は、この手順は不要です。
code-invalid-character = コードに含まれるのは、デバイスに表示される文字だけです（母音を除く英字、または数字のみ）。確認してもう一度お試しください。
code-shape = コードは BCDF-GHJK のような 8 文字の英字、または 01234-56789 のような 10 桁の数字です。確認してもう一度お試しください。
code-wrong = このコードは間違っているか、有効期限切れか、すでに使用されています。デバイスに表示されたコードを確認し、期限切れの場合はデバイスで最初からやり直してください。
code-throttled = 間違ったコードが多すぎます。安全のため、しばらくの間コードを確認できません。{ $secs } 秒後にもう一度お試しください。

## 承認

consent-title = { $client } を承認しますか？
consent-eyebrow = デバイスからのログイン要求
consent-heading = { $client } をあなたのアカウントに接続しますか？
consent-code = デバイスに表示されたコード
consent-warning-strong = 承認するのは、いま手元にあり、まさにこのコードを表示しているデバイスだけにしてください。
consent-warning = 誰かからこのコードやリンクが送られてきた場合や、入力するよう頼まれた場合は、「拒否」を押してください。承認すると、その人があなたのアカウントに入れるようになります。
consent-can = このデバイスができること
consent-about = この要求について
consent-app = アプリ
consent-asked = 要求日時
consent-from = 送信元アドレス
consent-same-network = （現在お使いのネットワーク）
consent-software = デバイスのソフトウェア
consent-expires = コードの残り有効時間
consent-approve = 承認
consent-deny = 拒否

## デバイスができること

scope-profile = ユーザー名の参照
scope-read = データの読み取り
scope-write = データの変更

## 期間と日時

duration-under-minute = 1 分未満
duration-minutes = { $n } 分
duration-hours = { $n } 時間
duration-days = { $n } 日
ago-under-minute = たった今
ago-minutes = { $n } 分前
ago-hours = { $n } 時間前
ago-days = { $n } 日前
time-now = 現在
time-unknown = 不明
time-never = なし

## 承認または拒否のあと

outcome-approved = デバイスを承認しました
outcome-approved-text = デバイスに戻ってください。数秒以内に接続されます。気が変わった場合は、「あなたのデバイス」からアクセス権を取り消せます。
outcome-denied = 要求を拒否しました
outcome-denied-text = デバイスにアクセス権は与えられず、そのコードは二度と使えません。これ以上の操作は不要です。
outcome-not-found = 不明なコード
outcome-not-found-text = このコードで待機中の要求はありません。コードが存在しないか、すでに応答済みです。デバイスに表示されたコードを確認してください。
outcome-expired = コードの有効期限切れ
outcome-expired-text = このコードは有効期限が切れています。デバイスで最初からやり直して、新しいコードを取得してください。
outcome-already = 応答済み
outcome-already-text = この要求はすでに承認または拒否されています。
result-connected = { $client } があなたのアカウントに接続されました。
result-not-connected = { $client } は接続されませんでした。
result-it-can = このデバイスができること：
result-your-devices = あなたのデバイス
result-connect-another = 別のデバイスを接続

## 短いページ

message-form-expired = フォームの有効期限切れ
message-consent-expired-text = この承認フォームは無効になりました。デバイスのコードをもう一度入力してください。
message-enter-code = コードを入力
message-sign-out = ログアウトしますか？
message-sign-out-text = ページ上部の「ログアウト」ボタンを使ってください。

## あなたのアカウント

account-title = あなたのアカウント
account-devices = アクセス権を持つデバイス
account-device-count = { $n ->
    [0] あなたのアカウントを使えるデバイスはありません。
   *[other] { $n } 台のデバイスがあなたのアカウントを使えます。
}
account-revoke-hint = デバイスのアクセス権を取り消すと、すぐに停止します。更新はできなくなり、現在のアクセストークンも使えなくなります。
account-approved = 承認日時
account-last-refreshed = 最終更新
account-expires = 有効期限
account-device-address = デバイスのアドレス
account-revoke = 取り消す
account-revoke-which = { $client }（{ $date } に承認）
account-revoke-all = すべてのデバイスを取り消す
account-sessions = ログイン中の場所
account-session-count = { $n } 個のブラウザでログインしています。
account-this-browser = このブラウザ
account-address = アドレス
account-signed-in = ログイン日時
account-last-active = 最終アクティビティ
account-sign-out = ログアウト
account-sign-out-this = このブラウザ
account-sign-out-which = { $browser }（{ $date } にログイン）
account-sign-out-others = 他のすべての場所からログアウト
account-password = パスワード
browser-unknown = 不明なブラウザ
browser-generic = ブラウザ
browser-on = { $os } の { $browser }
notice-revoked = デバイスのアクセス権を取り消しました。このデバイスは更新できなくなり、アクセストークンも使えなくなりました。
notice-revoked-all = すべてのデバイスのアクセス権を取り消しました。どのデバイスもあなたのアカウントを使えなくなりました。
notice-signed-out = そのブラウザをログアウトさせました。
notice-signed-out-others = 他のすべてのブラウザをログアウトさせました。
notice-password = パスワードを変更しました。他のすべてのブラウザはログアウトしました。デバイスのアクセス権はそのままです。

## パスワードの変更

password-title = パスワードを変更
password-lead = あなたのアカウントにログインしている他のすべてのブラウザはログアウトされます。接続済みのデバイスのアクセス権はそのままです。アクセス権はアカウントページで取り消せます。
password-current = 現在のパスワード
password-new = 新しいパスワード
password-new-help = 8 文字以上。関連のない単語をいくつか組み合わせると、良いパスワードになります。
password-again = 新しいパスワード（確認）
password-back = アカウントに戻る
password-too-short = 新しいパスワードが短すぎます。{ $n } 文字以上にしてください。
password-mismatch = 2 つの新しいパスワードが一致しません。
password-wrong-current = 現在のパスワードが正しくありません。
password-too-many = パスワードの間違いが多すぎます。{ $secs } 秒後にもう一度お試しください。

## 問題が起きたとき

error-start-again = 最初からやり直す
error-not-found = ページが見つかりません
error-not-found-text = このアドレスにはページがありません。
error-not-allowed = 許可されていません
error-not-allowed-text = このアドレスで使えるのは { $methods } だけです。
error-uri-too-long = アドレスが長すぎます
error-uri-too-long-text = クエリ文字列が { $limit } バイトを超えています。
error-csrf-text = このフォームは無効になりました。前のページに戻り、ページを再読み込みしてからもう一度お試しください。
error-not-a-form = 対応していないフォーム
error-not-a-form-text = このページは HTML フォームの送信だけを受け付けます。
error-too-large = データが多すぎます
error-too-large-text = フォームが許可されたサイズを超えていました。
error-incomplete = 不完全なフォーム
error-incomplete-text = フォームを読み取れませんでした。
error-too-slow = 時間切れ
error-too-slow-text = フォームの送信に時間がかかりすぎました。もう一度お試しください。
error-invalid-form = 無効なフォーム
error-invalid-form-text = フォームの形式が正しくないため、読み取れませんでした。前のページに戻ってもう一度お試しください。
error-storage = 問題が発生しました
error-storage-text = サーバーはこの要求を完了できませんでした。もう一度お試しください。
error-busy = 混雑しています
error-busy-text = サーバーが混雑しています。しばらくしてからもう一度お試しください。
error-password-not-stored-text = 新しいパスワードを保存できませんでした。もう一度お試しください。
error-no-decision = 選択されていません
error-no-decision-text = 「承認」か「拒否」を選んでください。
error-invalid-code = 無効なコード
error-invalid-code-text = このコードは無効です。
error-unknown-device = 不明なデバイス
error-unknown-device-text = そのデバイスは見つかりませんでした。
error-no-device-text = デバイスが選択されていません。
error-unknown-session = 不明なセッション
error-unknown-session-text = そのセッションは見つかりませんでした。
error-no-session-text = セッションが選択されていません。
error-account-changed = アカウントが変更されました
error-account-changed-text = このアカウントはその間に変更されました。もう一度ログインしてください。

## Admin console
account-admin-console = 管理コンソール
admin-nav = 管理
admin-users = ユーザー
admin-clients = クライアント
admin-grants = 有効な許可
admin-audit = 監査ログ
admin-keys = 署名鍵
admin-role-admin = 管理者
admin-disabled = 無効
admin-created = 作成日時
admin-dpop = DPoP
admin-token-format = アクセストークンの形式
admin-redirect-uris = リダイレクト URI
admin-redirect-uris-help = 1 行に 1 つ：https、127.0.0.1 または [::1] への http（ポートは任意）、または com.example.app:/cb のようなアプリのスキーム。
admin-device-code-ttl = デバイスコードの有効期間
admin-poll-interval = ポーリング間隔
admin-user-code-format = ユーザーコードの形式
admin-server-default = サーバーの既定値
admin-user-add = ユーザーを追加
admin-username = ユーザー名
admin-password = パスワード（8 文字以上）
admin-new-password = 新しいパスワード（8 文字以上）
admin-make-admin = 管理者（このコンソールを使用可能）
admin-none = ありません。
admin-scopes = スコープ
admin-expires = 有効期限
admin-revoke = 取り消す
admin-revoke-all = すべて取り消す
admin-sessions = サインイン中のブラウザー
admin-signed-in = サインイン日時
admin-address = アドレス
admin-browser = ブラウザー
admin-actions = 操作
admin-role-grant = 管理者にする
admin-role-remove = 管理者の役割を外す
admin-password-reset = パスワードを再設定
admin-enable = 有効にする
admin-disable = 無効にする
admin-delete = 削除
admin-confirm = はい、実行します
admin-client-name = 表示名
admin-scopes-help = 空白で区切ります（例: profile read write）。
admin-grant-types = グラント種別
admin-access-ttl = アクセストークンの有効期間
admin-refresh-ttl = リフレッシュトークンの有効期間
admin-ttl-help = 秒数または 15m・12h・30d。空欄ならサーバーの既定値。
admin-confidential = 機密
admin-client-add = クライアントを追加
admin-client-id = クライアント ID
admin-confidential-help = 機密: シークレットを持つリソースサーバーまたはバックエンド
admin-client-edit = 設定
admin-save = 保存
admin-rotate-secret = 新しいシークレット
admin-secret-title = クライアントシークレット
admin-secret-lead = 今すぐコピーしてください。表示はこの一度だけで、ハッシュとしてのみ保存されます。
admin-secret = シークレット
admin-continue = 続ける
admin-kind = 種類
admin-any = すべて
admin-audit-user = ユーザー（実行者または対象）
admin-since = 開始
admin-until = 終了
admin-time-help = 日付（2026-01-31、UTC）または Unix 秒。
admin-filter = 絞り込む
admin-export = JSON Lines で書き出す
admin-time = 日時
admin-actor = 実行者
admin-subject = 対象
admin-detail = 詳細
admin-keys-lead = 新しいトークンは印の付いた鍵で署名されます。他の鍵も公開され続け、それらで署名されたトークンは期限まで検証できます。
admin-signing = 署名中
admin-key-rotate = ローテーション: 新しい署名鍵
admin-done-user-added = ユーザーを追加しました。
admin-done-user-changed = ユーザーを変更しました。
admin-done-user-deleted = ユーザーを削除しました。
admin-done-revoked = アクセスを取り消しました。
admin-done-client-changed = クライアントを保存しました。
admin-done-client-deleted = クライアントを削除しました。
admin-done-key-rotated = 新しい署名鍵を使用しています。
error-forbidden = 管理者専用
error-forbidden-text = このページは管理者専用です。
error-admin-refused = 実行されませんでした
error-no-such-user-text = そのユーザーは存在しません。
error-no-such-client-text = そのクライアントは存在しません。
error-not-confirmed-text = 実行するには確認のチェックを入れてください。
error-unknown-action-text = 不明な操作です。
error-password-short-text = パスワードは 8 文字以上にしてください。
error-not-yourself-text = 自分のアカウントにはこの操作はできません。
error-bad-lifetime-text = 有効期間が正しくありません。秒数または 15m・12h・30d で指定してください。
error-bad-time-text = 日付が正しくありません。2026-01-31 または Unix 秒で指定してください。
error-bad-name-text = 名前は 1〜64 文字の英数字と - _ . @ のみです。
error-name-taken-text = その名前は既に使われています。
error-public-client-text = 公開クライアントにはシークレットがありません。
error-client-setting-text = 許可されていないクライアント設定です。client_credentials には機密クライアントが必要です。リダイレクト URI は https、127.0.0.1 または [::1] への http、またはプライベートスキームでなければなりません。有効期間と間隔は範囲内で指定してください。

## 認可コードフロー (RFC 6749 §4.1)

authorize-eyebrow = アプリからのサインイン要求
authorize-warning-strong = このアプリへのサインインをご自身で今始めた場合にのみ承認してください。
authorize-warning = 心当たりのないリンクからここに来た場合は「拒否」を押してください。承認すると、そのアプリがあなたのアカウントにアクセスできるようになります。
authorize-returns = 戻り先
error-unknown-client = 不明なアプリ
error-unknown-client-text = このアプリはここに登録されていないか、無効になっています。アプリには何も送り返していません。
error-bad-redirect = 戻り先アドレスが許可されていません
error-bad-redirect-text = アプリは登録されていないアドレスへ戻すよう求めました。安全のため、そのアドレスには移動していません。
