# RT initialdata for crm-bridge's tests (scripts/rt5-start.sh inserts it at DB init).
#
# Provisions the account the bridge logs in as, with the rights docs/rt.md lists and
# no more, so the tests prove that list is enough: the bridge is never RT's superuser.
# The test officer is RT's own 'root'. An auth token for the bridge is written to
# $RT_STATE_DIR/crm-bridge.token, so the tests can use token authentication too.

@Users = (
    {
        Name         => 'crm-bridge',
        RealName     => 'crm-bridge (members enquiries)',
        EmailAddress => 'crm-bridge@localhost',
        Password     => 'bridge-password',
        Privileged   => 1,
    },
);

# Day to day: see queues, open tickets with their custom fields set, comment, read
# history, correspondence and comments. `crm-bridge connector setup` also needs the
# three Admin/Assign rights (grant them for setup only, if you prefer).
@ACL = map { { UserId => 'crm-bridge', Right => $_ } } qw(
    SeeQueue CreateTicket ShowTicket ShowTicketComments CommentOnTicket
    SeeCustomField SetInitialCustomField
    AdminQueue AdminCustomField AssignCustomFields
    ManageAuthTokens
);

@Final = (
    sub {
        my $user = RT::User->new( RT->SystemUser );
        $user->Load('crm-bridge');
        die "no crm-bridge user" unless $user->Id;
        my $token = RT::AuthToken->new( RT::CurrentUser->new($user) );
        my ( $id, $msg, $auth ) = $token->Create( Owner => $user->Id, Description => 'crm-bridge tests' );
        die "token: $msg" unless $id;
        my $path = "$ENV{RT_STATE_DIR}/crm-bridge.token";
        open my $fh, '>', $path or die "$path: $!";
        print $fh "$auth\n";
        close $fh or die "$path: $!";
    },
);

1;
